"""bankcrm db …: schema administration."""

from __future__ import annotations

import typer

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console
from bankcrm.db.engine import make_engine
from bankcrm.db.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Operational database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context, home: HomeOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Run the migrations up to the newest schema."""
    settings = build_settings(ctx, home, database_url)
    engine = make_engine(settings)
    before = current_revision(engine)
    upgrade(engine)
    console.print(f"schema at {head_revision()} (was {before or 'empty'})")


@app.command("current")
def current_cmd(ctx: typer.Context, home: HomeOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Show the schema revision of the database."""
    settings = build_settings(ctx, home, database_url)
    console.print(current_revision(make_engine(settings)) or "empty")
