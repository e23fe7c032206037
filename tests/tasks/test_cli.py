"""The maintenance rules through the command line on a small generated bank: run, export, preview, edit."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine
from bankcrm.db.migrate import upgrade
from bankcrm.ingest.service import ingest_bundle
from bankcrm.synth.bundle import generate_bundle
from bankcrm.tasks.defaults import DEFAULT_RULE_IDS
from bankcrm.tasks.service import EXPORT_COLUMNS

AS_OF = date(2026, 8, 31)
runner = CliRunner()


@pytest.fixture(scope="module")
def loaded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("bank")
    generate_bundle(base / "bundle", customers=300, months=8, seed=5, as_of=AS_OF, fmt="parquet")
    settings = Settings(home=base / "home")
    engine = make_engine(settings)
    upgrade(engine)
    assert ingest_bundle(settings, engine, base / "bundle").ok
    engine.dispose()
    return base / "home"


@pytest.fixture
def home(loaded_home: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(loaded_home, target)
    return target


def cli(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


def _export(home: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    result = cli(home, "tasks", "export", str(out), *extra)
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == list(EXPORT_COLUMNS)
        return list(reader)


def test_run_raises_items_and_a_second_run_does_not_duplicate_them(home: Path, tmp_path: Path) -> None:
    assert cli(home, "tasks", "export", str(tmp_path / "none.csv")).exit_code != 0  # no run yet
    first = json.loads(cli(home, "run", "--as-of", AS_OF.isoformat(), "--json").output)
    rows = _export(home, tmp_path / "first.csv")
    assert {r["rule_id"] for r in rows} <= set(DEFAULT_RULE_IDS)
    with_plans = _export(home, tmp_path / "all.csv", "--include-cadence")
    assert len(with_plans) == first["tasks_created"] + first["opportunities_created"] > len(rows) > 0
    # the planted customers make every date-independent trigger fire at the generated as_of
    for rule_id in ("large_outflow", "maturity", "overdue", "need_mortgage", "need_reinvest", "dormancy"):
        assert first["rule_hits"][rule_id] > 0, rule_id
    hits = {rule_id: n for rule_id, n in first["rule_hits"].items() if n}
    assert {r: sum(1 for x in with_plans if x["rule_id"] == r) for r in hits} == hits
    urgent = [r for r in rows if r["rule_id"] == "large_outflow"]
    assert {r["priority"] for r in urgent} == {"urgent"}

    second = json.loads(cli(home, "run", "--as-of", AS_OF.isoformat(), "--json").output)
    assert (second["tasks_created"], second["opportunities_created"]) == (0, 0)
    again = _export(home, tmp_path / "second.csv")
    assert sorted((r["task_id"], r["customer_id"], r["rule_id"]) for r in again) == sorted(
        (r["task_id"], r["customer_id"], r["rule_id"]) for r in rows
    )
    older = _export(home, tmp_path / "older.csv", "--run", str(first["run_id"]))
    assert len(older) == len(rows)


def test_preview_edit_and_disable_a_rule(home: Path, tmp_path: Path) -> None:
    assert cli(home, "run", "--as-of", AS_OF.isoformat(), "--json").exit_code == 0
    rows = _export(home, tmp_path / "tasks.csv")
    expected = sum(1 for r in rows if r["rule_id"] == "need_retirement")
    preview = json.loads(cli(home, "rules", "preview", "need_retirement", "--json").output)
    assert preview["hits"] == expected
    assert preview["customers"] == 300
    assert all(50 <= row["age"] <= 60 for row in preview["sample"])

    narrower = json.loads(
        cli(
            home, "rules", "preview", "--condition", "age BETWEEN 55 AND 60 AND open_insurance_accounts = 0", "--json"
        ).output
    )
    assert narrower["hits"] <= expected

    bad = cli(home, "rules", "set", "need_retirement", "condition=age BETWEEN 50 AND 60 AND insurnce = 0")
    assert bad.exit_code != 0
    assert "unknown column 'insurnce'" in bad.output and "column 27" in bad.output

    assert cli(home, "rules", "disable", "need_retirement").exit_code == 0
    listed = {r["rule_id"]: r for r in json.loads(cli(home, "rules", "list", "--json").output)}
    assert listed["need_retirement"]["enabled"] is False
    summary = json.loads(cli(home, "run", "--as-of", AS_OF.isoformat(), "--json").output)
    assert "need_retirement" not in summary["rule_hits"]


def test_add_a_rule_from_a_file(home: Path, tmp_path: Path) -> None:
    rule = {
        "rule_id": "young_savers",
        "name_zh": "年轻储蓄客户",
        "name_en": "Young savers",
        "condition": "age < 30 AND deposit_balance >= 10000",
        "action": "opportunity",
        "priority": "low",
        "sla_hours": 120,
        "template_zh": "可推荐基金定投",
        "template_en": "Offer a fund plan",
    }
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(rule, ensure_ascii=False), encoding="utf-8")
    added = cli(home, "rules", "add", str(path))
    assert added.exit_code == 0, added.output
    assert "disabled" in added.output
    assert cli(home, "rules", "add", str(path)).exit_code != 0  # exists already
    shown = json.loads(cli(home, "rules", "show", "young_savers").output)
    assert (shown["enabled"], shown["history"][0]["change"]) == (False, "create")
    assert cli(home, "rules", "check", "tier = 'vip' AND (").exit_code != 0
    assert cli(home, "rules", "check", "tier = 'vip'").exit_code == 0
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = cli(home, "rules", "add", str(broken))
    assert result.exit_code != 0 and "broken.json" in result.output
