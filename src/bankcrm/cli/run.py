"""bankcrm run: the nightly job."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine

ENGINES = ("duckdb", "spark")


def parse_as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--as-of: expected a date YYYY-MM-DD, got {value!r}") from exc


def run(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", help="the run's date, YYYY-MM-DD")],
    engine: Annotated[str, typer.Option("--engine", help="duckdb (default) or spark")] = "duckdb",
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master URL (default local[*])")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Compute every feature and label for as_of and publish them atomically."""
    from bankcrm.analytics.nightly import NightlyError, run_nightly

    day = parse_as_of(as_of)
    if engine not in ENGINES:
        raise fail(f"--engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    settings = build_settings(ctx, home, database_url)
    db_engine = open_engine(settings)

    def on_step(name: str, seconds: float) -> None:
        if not json_output:
            console.print(f"  {name:<10} {seconds:8.2f} s")

    if not json_output:
        console.print(f"nightly run for {day} on {engine}")
    try:
        result = run_nightly(settings, db_engine, day, engine=engine, spark_master=spark_master, on_step=on_step)  # type: ignore[arg-type]
    except NightlyError as exc:
        raise fail(str(exc)) from exc
    finally:
        db_engine.dispose()
    if json_output:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    print_summary(result.to_dict())


def print_summary(summary: dict[str, object]) -> None:
    """Counts per tier, segment and value class, and the time of each step."""
    console.print(f"run {summary['run_id']} published for {summary['as_of']}: {summary['customers']:,} customers")
    table = Table(title="customers by label")
    table.add_column("label")
    table.add_column("value")
    table.add_column("customers", justify="right")
    for label in ("tiers", "segments", "value_classes"):
        counts = summary[label]
        assert isinstance(counts, dict)
        for key, n in counts.items():
            table.add_row(label, str(key), f"{n:,}")
    console.print(table)
    profile = summary.get("segment_profile") or []
    assert isinstance(profile, list)
    if profile:
        seg = Table(title="segments (current vs potential value)")
        for col in ("segment", "customers", "share", "age", "AUM 90d", "tx 90d", "mobile", "current", "potential"):
            seg.add_column(col, justify="left" if col == "segment" else "right")
        for p in profile:
            seg.add_row(
                str(p["segment"]),
                f"{p['customers']:,}",
                f"{p['share']:.1%}",
                f"{p['mean_age']:.1f}",
                f"¥{p['mean_aum_90d']:,.0f}",
                f"{p['mean_tx_count_90d']:.1f}",
                f"{(p['mean_mobile_share_90d'] or 0):.0%}",
                f"{p['mean_current_value']:.1f}",
                f"{p['mean_potential_value']:.1f}",
            )
        console.print(seg)
    hits = summary.get("rule_hits") or {}
    assert isinstance(hits, dict)
    if hits:
        rules = Table(title="maintenance rules (customers hit)")
        rules.add_column("rule")
        rules.add_column("customers", justify="right")
        for rule_id, n in hits.items():
            rules.add_row(rule_id, f"{n:,}")
        console.print(rules)
    errors = summary.get("rule_errors") or {}
    assert isinstance(errors, dict)
    for rule_id, message in errors.items():
        console.print(f"[yellow]rule {rule_id} skipped: {message}[/yellow]")
    console.print(
        f"tasks created: {summary['tasks_created']}, opportunities created: {summary['opportunities_created']}"
    )
    timings = summary["timings"]
    assert isinstance(timings, dict)
    console.print("steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
