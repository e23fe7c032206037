"""bankcrm keys …: rotate the field-encryption key without stopping readers."""

from __future__ import annotations

from typing import Annotated

import typer

from bankcrm.audit.service import Actor
from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.db.engine import session_factory, session_scope, vacuum_tables
from bankcrm.security import rotation
from bankcrm.security.crypto import load_or_create_keyring

keys_app = typer.Typer(help="Field-encryption keys.", no_args_is_help=True)


@keys_app.command("rotate")
def rotate_cmd(
    ctx: typer.Context,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="rows per transaction")] = 1000,
    resume: Annotated[
        bool, typer.Option("--resume", help="finish an interrupted rotation under the current active key")
    ] = False,
    retire_old: Annotated[
        bool, typer.Option("--retire-old", help="afterwards remove old keys that no ciphertext uses any more")
    ] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Re-encrypt every sensitive field under a new active key, batch by batch; old keys keep readers working."""
    settings = build_settings(ctx, home, database_url)
    engine = open_engine(settings)
    factory = session_factory(engine)
    key_file = settings.effective_key_file
    ring = load_or_create_keyring(key_file) if resume else rotation.start_rotation(key_file)
    console.print(f"active key {ring.active_key_id}; re-encrypting in batches of {batch_size:,}")
    report = rotation.reencrypt_all(factory, ring, batch_size=batch_size)
    # every rewritten row's page lost its all-visible mark: the customer list's index-only scans
    # would visit the heap again until a vacuum (no-op outside PostgreSQL)
    vacuum_tables(engine, report.rewritten_tables)
    if retire_old and report.remaining == 0:
        try:
            report.retired = rotation.retire_unused_keys(factory, key_file)
        except rotation.RotationError as exc:
            raise fail(str(exc)) from exc
    with session_scope(factory) as session:
        rotation.record_rotation(session, Actor.cli(), report)
    for column, n in sorted(report.rewritten.items()):
        console.print(f"  {column}: {n:,}")
    if report.remaining:
        raise fail(
            f"{report.remaining:,} values are still under old keys (written concurrently?); "
            "run `bankcrm keys rotate --resume`",
            code=1,
        )
    retired = f"; retired {', '.join(report.retired)}" if report.retired else ""
    console.print(f"every sensitive field is under key {report.new_key_id}{retired}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
