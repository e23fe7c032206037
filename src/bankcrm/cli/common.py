"""Options every command takes (--home, --database-url) and the context they build."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from bankcrm.config import Settings
from bankcrm.db.engine import make_engine

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="home folder (env BANKCRM_HOME, default ./bankcrm-data)", show_default=False),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option("--database-url", help="database URL (env BANKCRM_DATABASE_URL); default SQLite in the home"),
]

console = Console()
err_console = Console(stderr=True)


@dataclass
class GlobalOptions:
    home: Path | None = None
    database_url: str | None = None
    _engine: Engine | None = field(default=None, repr=False)


def build_settings(ctx: typer.Context, home: Path | None, database_url: str | None) -> Settings:
    """Per-command options win over the ones given before the command, which win over the environment."""
    glob = ctx.find_object(GlobalOptions) or GlobalOptions()
    overrides: dict[str, object] = {}
    if home or glob.home:
        overrides["home"] = home or glob.home
    if database_url or glob.database_url:
        overrides["database_url"] = database_url or glob.database_url
    return Settings(**overrides)  # type: ignore[arg-type]


def open_engine(settings: Settings, *, migrate: bool = True) -> Engine:
    """Engine for the settings; brings the schema up to date first (idempotent)."""
    from bankcrm.db.migrate import upgrade

    engine = make_engine(settings)
    if migrate:
        upgrade(engine)
    return engine


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)
