"""bankcrm serve: the web app and its JSON API."""

from __future__ import annotations

from typing import Annotated

import typer

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, open_engine
from bankcrm.config import Settings

HostOption = Annotated[str, typer.Option("--host", help="address to listen on")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")]


def run_web(settings: Settings, host: str, port: int) -> None:
    """Bring the schema up to date and serve the app until interrupted."""
    import uvicorn

    from bankcrm.web import create_app

    engine = open_engine(settings)
    app = create_app(settings, engine=engine)
    console.print(f"bankcrm web app on http://{host}:{port}/  (API: /api/v1, OpenAPI: /docs)", highlight=False)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False, server_header=False)
    finally:
        engine.dispose()


def serve(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Serve the web app and the JSON API (OpenAPI at /docs)."""
    run_web(build_settings(ctx, home, database_url), host, port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
