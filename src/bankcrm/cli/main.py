"""The `bankcrm` console script."""

from __future__ import annotations

import typer

from bankcrm import __version__
from bankcrm.cli import db as db_cli
from bankcrm.cli.common import DatabaseUrlOption, GlobalOptions, HomeOption

app = typer.Typer(
    name="bankcrm",
    help="Customer relationship management for retail banks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_cli.app, name="db")


@app.callback()
def main(
    ctx: typer.Context,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
    version: bool = typer.Option(False, "--version", help="print the version and exit"),
) -> None:
    """Options given here apply to every command."""
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    ctx.obj = GlobalOptions(home=home, database_url=database_url)


def _register_optional_commands() -> None:
    """Command groups that live beside the core; each registers itself on `app`."""
    from bankcrm.cli import commands  # noqa: F401


_register_optional_commands()
