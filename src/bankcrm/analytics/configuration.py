"""Nightly configuration kept in the database: show, change a value, derive weights by AHP.

Defaults live in code (``NightlyConfig``); the database holds the whole validated object
once someone changes it. Every nightly run records the configuration it used.
"""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from bankcrm.analytics.ahp import AHPError, AHPResult, ahp_weights
from bankcrm.analytics.config import NightlyConfig
from bankcrm.audit.service import Actor, AuditAction, record_change
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import repository as repo

CONFIG_KEY = "nightly_config"
WEIGHT_GROUPS = ("current_value_weights", "potential_value_weights", "value_index_weights")


class ConfigError(Exception):
    """A configuration change that was refused, with the reason."""


def load_config(engine: Engine) -> NightlyConfig:
    """The configuration stored in the database, or the defaults."""
    with session_scope(session_factory(engine)) as session:
        stored = repo.get_setting(session, CONFIG_KEY)
    return NightlyConfig.model_validate_json(stored) if stored else NightlyConfig()


def save_config(
    engine: Engine,
    config: NightlyConfig,
    *,
    by: str | None,
    actor: Actor | None = None,
    note: dict[str, Any] | None = None,
) -> None:
    """Store the configuration and audit the changed settings (before/after) in the same transaction."""
    with session_scope(session_factory(engine)) as session:
        stored = repo.get_setting(session, CONFIG_KEY)
        before = json.loads(
            NightlyConfig.model_validate_json(stored).model_dump_json() if stored else NightlyConfig().model_dump_json()
        )
        repo.put_setting(session, CONFIG_KEY, config.model_dump_json(), by=by)
        record_change(
            session,
            actor or Actor(by or "system"),
            action=AuditAction.CONFIG_CHANGE,
            target_type="setting",
            target_id=CONFIG_KEY,
            before=before,
            after=json.loads(config.model_dump_json()),
            extra=note,
        )


def reset_config(engine: Engine, *, by: str | None, actor: Actor | None = None) -> NightlyConfig:
    config = NightlyConfig()
    save_config(engine, config, by=by, actor=actor, note={"via": "reset"})
    return config


def with_values(config: NightlyConfig, assignments: dict[str, str]) -> NightlyConfig:
    """A copy with dotted keys set to JSON values (``potential_growth_threshold=0.25``), validated as a whole."""
    data: dict[str, Any] = json.loads(config.model_dump_json())
    for key, raw in assignments.items():
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare word is a string
        parts = key.split(".")
        node = data
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"{key}: no such setting")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"{key}: no such setting")
        node[parts[-1]] = value
    try:
        return NightlyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc)) from exc


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())


def read_comparison_matrix(path: Path) -> tuple[list[str], list[list[float]]]:
    """Indicator names (header row) and the n × n matrix below it; cells may be fractions like 1/3."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the matrix: {exc}") from exc
    if not rows:
        raise ConfigError(f"{path}: empty file; expected a header of indicator names and a square matrix")
    names = [c.strip() for c in rows[0]]
    # an optional first column repeating the names is allowed
    body = rows[1:]
    if body and body[0] and body[0][0].strip() in names and len(body[0]) == len(names) + 1:
        body = [row[1:] for row in body]
        if names and names[0] == "":
            names = names[1:]
    if names and names[0] == "":
        names = names[1:]
    if len(body) != len(names):
        raise ConfigError(f"{path}: {len(names)} indicator names but {len(body)} matrix rows")
    matrix: list[list[float]] = []
    for i, row in enumerate(body, start=2):
        if len(row) != len(names):
            raise ConfigError(f"{path}, line {i}: {len(row)} cells, expected {len(names)}")
        values = []
        for j, cell in enumerate(row, start=1):
            try:
                values.append(float(Fraction(cell.strip())))
            except (ValueError, ZeroDivisionError) as exc:
                raise ConfigError(f"{path}, line {i}, column {j}: not a number: {cell!r}") from exc
        matrix.append(values)
    return names, matrix


def weights_by_ahp(
    config: NightlyConfig, group: str, names: list[str], matrix: list[list[float]]
) -> tuple[NightlyConfig, AHPResult]:
    """Replace one weight group by AHP weights; names must be exactly that group's indicators."""
    if group not in WEIGHT_GROUPS:
        raise ConfigError(f"{group}: expected one of {', '.join(WEIGHT_GROUPS)}")
    expected = list(getattr(config, group).model_dump())
    if sorted(names) != sorted(expected):
        raise ConfigError(f"{group} compares exactly these indicators: {', '.join(expected)}; got {', '.join(names)}")
    try:
        result = ahp_weights(matrix)
    except AHPError as exc:
        raise ConfigError(str(exc)) from exc
    weights = {name: float(w) for name, w in zip(names, result.weights, strict=True)}
    # the eigenvector sums to 1 only up to rounding; put the residue on the largest weight
    residue = 1.0 - sum(weights.values())
    weights[max(weights, key=lambda k: weights[k])] += residue
    return with_values(config, {f"{group}.{k}": json.dumps(v) for k, v in weights.items()}), result
