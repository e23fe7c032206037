"""bankcrm scores …: published nightly outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import service

scores_app = typer.Typer(help="Published per-customer scores.", no_args_is_help=True)


@scores_app.command("export")
def export_cmd(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Argument(help="output file, .csv or .parquet")],
    run: Annotated[str, typer.Option("--run", help="run id, or 'latest' for the current published run")] = "latest",
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write the published per-customer outputs, one row per customer (SPEC section 10 columns)."""
    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            run_id = service.resolve_run(session, run)
            n = service.export_scores(session, run_id, out_file)
            record(
                session,
                Actor.cli(),
                AuditAction.EXPORT,
                target_type="scores_run",
                target_id=str(run_id),
                details={"what": "scores", "run_id": run_id, "rows": n, "file": str(out_file)},
            )
    except service.ScoresError as exc:
        raise fail(str(exc)) from exc
    console.print(f"wrote {n:,} customers of run {run_id} to {out_file}")


@scores_app.command("migration")
def migration_cmd(
    ctx: typer.Context,
    from_run: Annotated[
        int | None, typer.Option("--from", help="earlier run id (default: the one before --to)")
    ] = None,
    to_run: Annotated[int | None, typer.Option("--to", help="later run id (default: the current run)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Tier migration matrix between two published runs: customers per (tier before, tier after)."""
    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            a, b, matrix = service.tier_migration(session, from_run, to_run)
    except service.ScoresError as exc:
        raise fail(str(exc)) from exc
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "from_run": a,
                    "to_run": b,
                    "cells": [{"from": f, "to": t, "customers": n} for (f, t), n in matrix.items()],
                }
            )
        )
        return
    tiers = ["vip", "potential", "ordinary", "none"]
    table = Table(title=f"tier migration: run {a} → run {b}")
    table.add_column("from \\ to")
    for t in tiers:
        table.add_column(t, justify="right")
    for f in tiers:
        table.add_row(f, *(f"{matrix.get((f, t), 0):,}" for t in tiers))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(scores_app, name="scores")
