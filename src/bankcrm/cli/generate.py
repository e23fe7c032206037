"""bankcrm generate: write a synthetic extract bundle."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, console, fail


class BundleFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def generate(
    out_dir: Annotated[Path, typer.Argument(help="folder to write the bundle into (created if missing)")],
    customers: Annotated[int, typer.Option("--customers", min=100, help="number of customers")] = 20_000,
    months: Annotated[int, typer.Option("--months", min=1, max=120, help="months of history ending at as-of")] = 12,
    seed: Annotated[int, typer.Option("--seed", help="random seed; same inputs give the same bundle")] = 42,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="last day of the history, YYYY-MM-DD (default: yesterday in Asia/Shanghai)"),
    ] = None,
    fmt: Annotated[BundleFormat, typer.Option("--format", help="file format")] = BundleFormat.csv,
    inject_errors: Annotated[
        bool,
        typer.Option(
            "--inject-errors",
            help="append known bad rows of every rejection kind and write expected_load.json "
            "with the load report to expect",
        ),
    ] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Write a synthetic extract bundle in the nightly-extract format (all eight files)."""
    from bankcrm.synth import generate_bundle

    day: date | None = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise fail(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}") from None
    summary = generate_bundle(
        out_dir,
        customers=customers,
        months=months,
        seed=seed,
        as_of=day,
        fmt=fmt.value,
        progress=True,
        inject_errors=inject_errors,
        console=console,
    )
    for name, rows in summary.rows.items():
        console.print(f"  {name:<16} {rows:>13,} rows")
    total = sum(summary.rows.values())
    console.print(
        f"wrote {total:,} rows to {summary.out_dir} (as of {summary.as_of}, from {summary.first_day}) "
        f"in {summary.seconds:.1f} s: {summary.rows_per_second:,.0f} rows/s, "
        f"{summary.transactions_per_second:,.0f} transactions/s",
        highlight=False,
    )
    if inject_errors:
        console.print("injected bad rows; the expected load report is in expected_load.json")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("generate")(generate)
