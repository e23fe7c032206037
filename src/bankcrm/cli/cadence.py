"""bankcrm cadence …: contact-plan coverage and overdue contacts (SPEC 5.1)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.tasks.cadence import GROUPINGS, cadence_report

cadence_app = typer.Typer(help="Contact cadence per tier: coverage and overdue contacts.", no_args_is_help=True)


@cadence_app.command("coverage")
def coverage_cmd(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help="rm, team or branch")] = "rm",
    json_output: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Share of each manager's (team's, branch's) customers contacted as their tier requires."""
    if by not in GROUPINGS:
        raise fail(f"--by: expected one of {', '.join(GROUPINGS)}, got {by!r}")
    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            report = cadence_report(session, by=by)
    finally:
        engine.dispose()
    rows = [r.to_dict() for r in report.rows]
    if json_output:
        typer.echo(json.dumps({"run_id": report.run_id, "as_of": report.as_of.isoformat(), "by": by, "rows": rows}))
        return
    if report.run_id is None:
        raise fail("no published run yet: run `bankcrm run --as-of DATE` first")
    table = Table(title=f"contact coverage by {by} (run {report.run_id})")
    for column in (by, "customers", "covered", "overdue", "coverage"):
        table.add_column(column, justify="left" if column == by else "right")
    for row in rows:
        coverage = "–" if row["coverage"] is None else f"{row['coverage']:.1%}"
        table.add_row(
            str(row["key"] or "(none)"), f"{row['customers']:,}", f"{row['covered']:,}", f"{row['overdue']:,}", coverage
        )
    console.print(table)


@cadence_app.command("overdue")
def overdue_cmd(
    ctx: typer.Context,
    rm: Annotated[str | None, typer.Option("--rm", help="one RM's staff id")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="rows to print")] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Customers whose plan's contact is overdue (never contacted first)."""
    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            report = cadence_report(session, rm_id=rm)
    finally:
        engine.dispose()
    rows = [o.to_dict(report.as_of) for o in report.overdue]
    if json_output:
        typer.echo(json.dumps({"run_id": report.run_id, "total": len(rows), "rows": rows[:limit]}))
        return
    table = Table(title=f"overdue contacts: {len(rows):,}")
    for column in ("customer", "rm", "tier", "plan", "every", "days since contact"):
        table.add_column(column)
    for row in rows[:limit]:
        since = "never" if row["days_since_contact"] is None else str(row["days_since_contact"])
        table.add_row(
            row["customer_id"], str(row["rm_id"] or ""), row["tier"], row["plan"], str(row["every_days"]), since
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(cadence_app, name="cadence")
