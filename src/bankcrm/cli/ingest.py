"""bankcrm ingest: validate and load an extract bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, err_console, fail, open_engine


def ingest(
    ctx: typer.Context,
    bundle_dir: Annotated[Path, typer.Argument(help="folder with the extract files (CSV or Parquet)")],
    json_output: Annotated[bool, typer.Option("--json", help="print the load report as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Validate and load an extract bundle; prints the load report.

    Exit 0 when the bundle loaded, even with rejected rows; 1 when a file could not be read.
    """
    from bankcrm.ingest.lock import ingest_lock
    from bankcrm.ingest.reader import unrecognised_files
    from bankcrm.ingest.service import ingest_bundle_locked
    from bankcrm.ingest.spec import FILES
    from bankcrm.security.crypto import KeyError_

    settings = build_settings(ctx, home, database_url)
    if not bundle_dir.exists():
        raise fail(f"{bundle_dir}: no such folder")
    if not bundle_dir.is_dir():
        raise fail(f"{bundle_dir}: not a folder (a bundle is a folder of extract files)")

    def on_wait(message: str) -> None:
        err_console.print(message, highlight=False)

    # the lock comes first so two loads into a new home do not race to create the schema
    with ingest_lock(settings.ensure_home(), on_wait):
        engine = open_engine(settings)
        try:
            report = ingest_bundle_locked(settings, engine, bundle_dir, on_wait=on_wait)
        except KeyError_ as exc:
            raise fail(f"field-encryption keys: {exc}") from exc
        finally:
            engine.dispose()
    # warnings go to stderr, so that --json output stays one document
    expected = ", ".join(spec.name for spec in FILES) + " (.csv or .parquet)"
    for name in unrecognised_files(bundle_dir):
        err_console.print(f"[yellow]ignored:[/] {name} is not an extract file name ({expected})", highlight=False)
    if not report.files:
        err_console.print(f"[yellow]no extract files in {bundle_dir}:[/] expected {expected}", highlight=False)
    if json_output:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        console.print(report.table())
        for f in report.ordered():
            if f.message:
                err_console.print(f"[bold red]{f.status}:[/] {f.message}", highlight=False)
        console.print(f"load {report.load_id}: {report.seconds:.1f} s")
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("ingest")(ingest)
