"""bankcrm config …: the nightly configuration (thresholds, rates, weights) kept in the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bankcrm.audit.service import Actor
from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine

config_app = typer.Typer(help="Nightly configuration: thresholds, margin rates, weights.", no_args_is_help=True)


@config_app.command("show")
def show_cmd(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print the configuration the next nightly run will use."""
    from bankcrm.analytics.configuration import load_config

    config = load_config(open_engine(build_settings(ctx, home, database_url)))
    if json_output:
        typer.echo(config.model_dump_json(indent=2))
        return
    table = Table(title="nightly configuration")
    table.add_column("setting")
    table.add_column("value")
    for key, value in json.loads(config.model_dump_json()).items():
        table.add_row(key, json.dumps(value, ensure_ascii=False))
    console.print(table)


@config_app.command("set")
def set_cmd(
    ctx: typer.Context,
    assignments: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs; VALUE is JSON, keys may be dotted")],
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Change settings; the whole configuration is validated before anything is stored."""
    from bankcrm.analytics.configuration import ConfigError, load_config, save_config, with_values

    pairs: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"{item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value.strip()
    engine = open_engine(build_settings(ctx, home, database_url))
    try:
        config = with_values(load_config(engine), pairs)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    save_config(engine, config, by="cli", actor=Actor.cli(), note={"via": "set"})
    console.print(f"stored {len(pairs)} setting(s); the next nightly run uses them")


@config_app.command("ahp")
def ahp_cmd(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="current_value_weights, potential_value_weights or value_index_weights")],
    matrix_file: Annotated[Path, typer.Argument(help="CSV: header of indicator names, then the n × n matrix")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the weights without storing them")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Derive a weight group from an AHP pairwise-comparison matrix (refused when CR ≥ 0.10)."""
    from bankcrm.analytics.configuration import (
        ConfigError,
        load_config,
        read_comparison_matrix,
        save_config,
        weights_by_ahp,
    )

    engine = open_engine(build_settings(ctx, home, database_url))
    try:
        names, matrix = read_comparison_matrix(matrix_file)
        config, result = weights_by_ahp(load_config(engine), group, names, matrix)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    table = Table(title=f"{group} by AHP: λmax {result.lambda_max:.4f}, CI {result.ci:.4f}, CR {result.cr:.4f}")
    table.add_column("indicator")
    table.add_column("weight", justify="right")
    for name, weight in getattr(config, group).model_dump().items():
        table.add_row(name, f"{weight:.4f}")
    console.print(table)
    if dry_run:
        console.print("dry run: nothing stored")
        return
    save_config(engine, config, by="cli", actor=Actor.cli(), note={"via": "ahp", "group": group, "cr": result.cr})
    console.print("stored; the next nightly run uses these weights")


@config_app.command("reset")
def reset_cmd(ctx: typer.Context, home: HomeOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Go back to the defaults."""
    from bankcrm.analytics.configuration import reset_config

    reset_config(open_engine(build_settings(ctx, home, database_url)), by="cli", actor=Actor.cli())
    console.print("configuration reset to the defaults")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
