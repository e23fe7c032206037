"""bankcrm dispatch: send the message outbox; bankcrm contact-policy: show and change the contact policy."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer
from rich.table import Table

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine


def dispatch(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="send everything due now, then exit")] = False,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="messages claimed at a time")] = None,
    interval: Annotated[
        float | None, typer.Option("--interval", min=0.1, help="seconds between polls when not --once")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Send due messages (SMS, e-mail, WeChat) under the contact policy; runs until stopped unless --once."""
    from bankcrm.outbox.dispatcher import DispatchSummary, run_dispatcher

    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    if not once:
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def on_batch(done: DispatchSummary) -> None:
        if not json_output:
            console.print(
                f"sent {done.sent}, reconciled {done.reconciled}, held {done.deferred_or_blocked}, "
                f"retrying {done.failed}, dead {done.dead}"
            )

    try:
        total = run_dispatcher(
            settings, engine, once=once, batch=batch, stop_event=stop, interval=interval, on_batch=on_batch
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    if json_output:
        typer.echo(json.dumps(total.to_dict()))
    elif once and not total.claimed:
        console.print("nothing due")


policy_app = typer.Typer(
    help="The contact policy: quiet hours, frequency caps, opt-out text, message classes.", no_args_is_help=True
)


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print the policy in force (stored values, or the defaults)."""
    from bankcrm.db.engine import session_factory, session_scope
    from bankcrm.outbox.service import load_policy

    engine = open_engine(build_settings(ctx, home, database_url))
    try:
        with session_scope(session_factory(engine)) as session:
            policy = load_policy(session)
    finally:
        engine.dispose()
    if json_output:
        typer.echo(policy.model_dump_json(indent=2))
        return
    table = Table(title="contact policy")
    table.add_column("setting")
    table.add_column("value")
    for key, value in json.loads(policy.model_dump_json()).items():
        table.add_row(key, json.dumps(value, ensure_ascii=False))
    console.print(table)


@policy_app.command("set")
def policy_set(
    ctx: typer.Context,
    assignments: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs; VALUE is JSON or a bare word")],
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Change settings, e.g. cap_7d=1 quiet_start=20:30; the whole policy is validated before it is stored."""
    from pydantic import ValidationError

    from bankcrm.audit.service import Actor
    from bankcrm.db.engine import session_factory, session_scope
    from bankcrm.outbox.policy import ContactPolicy
    from bankcrm.outbox.service import load_policy, save_policy

    engine = open_engine(build_settings(ctx, home, database_url))
    try:
        with session_scope(session_factory(engine)) as session:
            data = json.loads(load_policy(session).model_dump_json())
            for item in assignments:
                key, sep, raw = item.partition("=")
                key = key.strip()
                if not sep or key not in data:
                    raise fail(f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(data)}")
                try:
                    data[key] = json.loads(raw)
                except json.JSONDecodeError:
                    data[key] = raw.strip()  # a bare word or a time such as 20:30
            try:
                policy = ContactPolicy.model_validate(data)
            except ValidationError as exc:
                raise fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from exc
            save_policy(session, policy, actor=Actor.cli())
    finally:
        engine.dispose()
    console.print(f"stored {len(assignments)} setting(s); scheduling and the dispatcher use them at once")


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch)
    app.add_typer(policy_app, name="contact-policy")
