"""bankcrm audit …: verify the hash chain, look at events, purge beyond the retention period."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from bankcrm.audit import service
from bankcrm.audit.repository import ChainHeadMissing
from bankcrm.audit.service import Actor
from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.db.engine import session_factory, session_scope

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_cmd(ctx: typer.Context, home: HomeOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Seal pending events, then walk the hash chain; exit 1 naming the first broken sequence number."""
    engine = open_engine(build_settings(ctx, home, database_url))
    with contextlib.suppress(ChainHeadMissing):  # verify reports it
        service.seal(engine, wait=True)
    with session_scope(session_factory(engine)) as session:
        result = service.verify(session)
    # events committed since the seal above
    pending = f"; {result.pending:,} events pending (not yet sealed, not checked)" if result.pending else ""
    if not result.ok:
        raise fail(f"audit chain broken at sequence {result.broken_seq}: {result.reason}{pending}", code=1)
    console.print(
        f"audit chain intact: {result.rows_checked:,} rows checked, last sequence {result.last_seq}, "
        f"head hash {result.last_hash}{pending}",
        highlight=False,
    )


def _parse_since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--since {value!r}: expected an ISO date or date-time, e.g. 2026-11-01") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit_app.command("show")
def show_cmd(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option("--actor", help="username, cli or system")] = None,
    action: Annotated[str | None, typer.Option("--action", help="e.g. field.reveal, or login. for a family")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO date or date-time (UTC unless given)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Newest events first."""
    since_at = _parse_since(since) if since else None
    engine = open_engine(build_settings(ctx, home, database_url))
    with session_scope(session_factory(engine)) as session:
        events = service.search(session, actor=actor, action=action, since=since_at, limit=limit)
        rows = [
            {
                "seq": e.seq,
                "occurred_at": e.occurred_at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "target": f"{e.target_type}:{e.target_id}" if e.target_type else "",
                "client_address": e.client_address,
                "details": json.loads(e.details_json),
            }
            for e in events
        ]
    if json_output:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} audit event(s)")
    for column in ("seq", "time (UTC)", "actor", "action", "target", "details"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["seq"]),
            str(row["occurred_at"])[:19],
            str(row["actor"]),
            str(row["action"]),
            str(row["target"]),
            json.dumps(row["details"], ensure_ascii=False),
        )
    console.print(table)


@audit_app.command("purge")
def purge_cmd(
    ctx: typer.Context,
    older_than_days: Annotated[
        int | None, typer.Option("--older-than-days", help="default: the audit_retention_days setting")
    ] = None,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Delete events older than the retention period (refused below 6 months), keeping the chain verifiable."""
    settings = build_settings(ctx, home, database_url)
    days = older_than_days if older_than_days is not None else settings.audit_retention_days
    engine = open_engine(settings)
    try:
        with session_scope(session_factory(engine)) as session:
            result = service.purge(session, older_than=timedelta(days=days), actor=Actor.cli())
    except service.AuditError as exc:
        raise fail(str(exc)) from exc
    if result.through_seq is None:
        console.print(f"nothing older than {days} days to purge")
    else:
        console.print(f"purged {result.rows_deleted:,} events through sequence {result.through_seq}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
