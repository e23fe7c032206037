"""bankcrm demo: a whole synthetic bank, from the extract to the published nightly run."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine


def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option("--customers", min=100, help="customers in the demo bank")] = 20_000,
    months: Annotated[int, typer.Option("--months", min=7, max=36, help="months of history")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="seed of the synthetic bank")] = 42,
    port: Annotated[int, typer.Option("--port", help="port of the web app")] = 8000,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Set up the home, generate a synthetic bank, load it and run the nightly job."""
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
    finally:
        engine.dispose()

    console.rule("done")
    console.print(f"home folder:         {settings.home}")
    console.print(f"operational database: {_display_url(settings.effective_database_url)}")
    console.print(f"lake (Parquet):      {settings.lake_dir}")
    console.print(f"extract bundle:      {bundle_dir}")
    console.print(f"scores:              bankcrm scores export scores.csv --home {settings.home}")
    console.print(f"total {time.perf_counter() - started:.1f} s")
    _ = port  # the web app joins the demo once it exists


def _display_url(url: str) -> str:
    """The database URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
