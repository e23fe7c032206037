"""bankcrm serve: the web app and its JSON API."""

from __future__ import annotations

import logging
import os
import threading
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, open_engine
from bankcrm.config import Settings

log = logging.getLogger(__name__)

HostOption = Annotated[str, typer.Option("--host", help="address to listen on")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")]


MAINTENANCE_INTERVAL_SECONDS = 300.0


def maintenance_loop(engine: Engine, stop: threading.Event, interval: float = MAINTENANCE_INTERVAL_SECONDS) -> None:
    """Between nightly runs: escalate urgent items past due and bring snoozed items back when their time comes."""
    from bankcrm.db.engine import session_factory, session_scope
    from bankcrm.tasks.service import escalate_overdue
    from bankcrm.tasks.work_service import wake_snoozed

    factory = session_factory(engine)
    while not stop.is_set():
        try:
            with session_scope(factory) as session:
                escalate_overdue(session)
                wake_snoozed(session)
        except Exception:  # a passing database outage must not end the loop
            log.exception("maintenance pass failed; retrying in %s s", interval)
        stop.wait(interval)


def start_background(settings: Settings, engine: Engine) -> tuple[threading.Event, list[threading.Thread]]:
    """The outbox dispatcher and the maintenance loop as daemon threads of the web process."""
    from bankcrm.outbox.dispatcher import run_dispatcher_loop

    stop = threading.Event()
    threads = [
        threading.Thread(
            target=run_dispatcher_loop,
            args=(settings, stop),
            kwargs={"engine": engine},
            name="outbox-dispatcher",
            daemon=True,
        ),
        threading.Thread(target=maintenance_loop, args=(engine, stop), name="task-maintenance", daemon=True),
    ]
    for thread in threads:
        thread.start()
    return stop, threads


def run_web(settings: Settings, host: str, port: int, *, background: bool = True, workers: int = 1) -> None:
    """Bring the schema up to date and serve the app until interrupted (with the dispatcher and escalations).

    With ``workers`` > 1 the app runs in that many processes (one per core), each building it
    from the environment, where the settings are passed on; the dispatcher and the escalation
    loop stay in this process, so they run once whatever the number of workers.
    """
    import uvicorn

    from bankcrm.web import create_app

    engine = open_engine(settings)
    console.print(f"bankcrm web app on http://{host}:{port}/  (API: /api/v1, OpenAPI: /docs)", highlight=False)
    stop, threads = start_background(settings, engine) if background else (threading.Event(), [])
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info", "proxy_headers": False}
    try:
        if workers > 1:
            os.environ["BANKCRM_HOME"] = str(settings.home)
            if settings.database_url:
                os.environ["BANKCRM_DATABASE_URL"] = settings.database_url
            uvicorn.run(
                "bankcrm.web:app_from_environment", factory=True, workers=workers, server_header=False, **options
            )
        else:
            uvicorn.run(create_app(settings, engine=engine), server_header=False, **options)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        engine.dispose()


def serve(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    background: Annotated[
        bool,
        typer.Option(
            "--background/--no-background",
            help="also run the outbox dispatcher and the escalation loop in this process",
        ),
    ] = True,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="app processes; one per core uses every core")
    ] = 1,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Serve the web app and the JSON API (OpenAPI at /docs), with the message dispatcher in the background."""
    run_web(build_settings(ctx, home, database_url), host, port, background=background, workers=workers)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
