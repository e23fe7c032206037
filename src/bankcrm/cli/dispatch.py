"""bankcrm dispatch: send the message outbox through the configured gateways."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer

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


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch)
