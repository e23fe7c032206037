"""bankcrm tasks …: the work items the maintenance rules raise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import service as scores_service
from bankcrm.tasks import service

tasks_app = typer.Typer(help="Tasks, opportunities and messages raised by the maintenance rules.", no_args_is_help=True)


@tasks_app.command("export")
def export_cmd(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Argument(help="output file, .csv or .parquet")],
    run: Annotated[str, typer.Option("--run", help="run id, or 'latest' for the current published run")] = "latest",
    include_cadence: Annotated[
        bool, typer.Option("--include-cadence", help="also the contact-plan tasks (SPEC 5.1)")
    ] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write the items a run raised or found still open: task_id, customer_id, rule_id, kind, priority, created_at,
    due_at, assigned_to, status."""
    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            run_id = scores_service.resolve_run(session, run)
            rows = service.export_rows(session, run_id, include_cadence=include_cadence)
            service.write_export(rows, out_file)
            record(
                session,
                Actor.cli(),
                AuditAction.EXPORT,
                target_type="tasks_run",
                target_id=str(run_id),
                details={"what": "tasks", "run_id": run_id, "rows": len(rows), "file": str(out_file)},
            )
    except scores_service.ScoresError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    console.print(f"wrote {len(rows):,} items of run {run_id} to {out_file}")


@tasks_app.command("escalate")
def escalate_cmd(
    ctx: typer.Context,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Escalate urgent items past their due time (a large outflow not checked within 24 h) to the team lead."""
    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            escalated = service.escalate_overdue(session, actor=Actor.cli())
    finally:
        engine.dispose()
    console.print(f"escalated {len(escalated)} items")


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")
