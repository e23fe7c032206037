"""bankcrm scores …: published nightly outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    except service.ScoresError as exc:
        raise fail(str(exc)) from exc
    console.print(f"wrote {n:,} customers of run {run_id} to {out_file}")


def register(app: typer.Typer) -> None:
    app.add_typer(scores_app, name="scores")
