"""bankcrm demo: a whole synthetic bank, from the extract to the published nightly run."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from sqlalchemy import Engine

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.config import Settings
from bankcrm.security.demo import DemoLogin


def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option("--customers", min=100, help="customers in the demo bank")] = 20_000,
    months: Annotated[int, typer.Option("--months", min=7, max=36, help="months of history")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="seed of the synthetic bank")] = 42,
    port: Annotated[int, typer.Option("--port", help="port of the web app")] = 8000,
    host: Annotated[str, typer.Option("--host", help="address the web app listens on")] = "127.0.0.1",
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="start the web app at the end")] = True,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Set up the home, generate a synthetic bank, load it, run the nightly job, add demo logins and serve the app."""
    from bankcrm.analytics.nightly import NightlyError, run_nightly
    from bankcrm.cli.run import print_summary
    from bankcrm.ingest.service import ingest_bundle
    from bankcrm.synth.bundle import default_as_of, generate_bundle

    settings = build_settings(ctx, home, database_url)
    settings.ensure_home()
    as_of = default_as_of()
    bundle_dir = settings.home / "bundles" / f"demo-{as_of.isoformat()}"
    started = time.perf_counter()

    console.rule("1/3 generate a synthetic bank")
    summary = generate_bundle(
        bundle_dir, customers=customers, months=months, seed=seed, as_of=as_of, fmt="parquet", progress=True
    )
    console.print(
        f"{summary.customers:,} customers, {summary.rows.get('transactions', 0):,} transactions "
        f"over {months} months to {as_of} in {summary.seconds:.1f} s → {bundle_dir}"
    )

    console.rule("2/3 load the extract bundle")
    engine = open_engine(settings)
    try:
        report = ingest_bundle(settings, engine, bundle_dir, on_wait=console.print)
        console.print(report.table())
        if not report.ok:
            raise fail("the demo bundle did not load; see the report above", code=1)

        console.rule(f"3/3 nightly run for {as_of}")
        try:
            result = run_nightly(
                settings, engine, as_of, on_step=lambda name, s: console.print(f"  {name:<10} {s:8.2f} s")
            )
        except NightlyError as exc:
            raise fail(str(exc), code=1) from exc
        print_summary(result.to_dict())
        logins = _demo_logins(settings, engine)
    finally:
        engine.dispose()

    console.rule("done")
    console.print(f"home folder:         {settings.home}")
    console.print(f"operational database: {_display_url(settings.effective_database_url)}")
    console.print(f"lake (Parquet):      {settings.lake_dir}")
    console.print(f"extract bundle:      {bundle_dir}")
    console.print(f"scores:              bankcrm scores export scores.csv --home {settings.home}")
    console.print(f"total {time.perf_counter() - started:.1f} s")
    console.rule("demo logins (demo passwords: for this demo bank only)")
    for login in logins:
        console.print(f"  {login.role:<15} {login.username:<16} {login.password:<24} {login.scope}", highlight=False)
    console.print(f"web app:             http://{host}:{port}/", highlight=False)
    if serve:
        from bankcrm.cli.serve import run_web

        run_web(settings, host, port)


def _demo_logins(settings: Settings, engine: Engine) -> list[DemoLogin]:
    """One login per role on the demo bank (passwords reset to the demo ones when they exist)."""
    from bankcrm.audit.service import Actor
    from bankcrm.db.engine import session_factory, session_scope
    from bankcrm.security.demo import DemoError, create_demo_users
    from bankcrm.security.passwords import hasher_for

    try:
        with session_scope(session_factory(engine)) as session:
            return create_demo_users(session, hasher=hasher_for(settings), actor=Actor.cli())
    except DemoError as exc:
        raise fail(str(exc), code=1) from exc


def _display_url(url: str) -> str:
    """The database URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
