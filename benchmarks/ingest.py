"""Ingest benchmark: time each file's load and the whole bundle against a bare DuckDB read of the same files.

    python benchmarks/ingest.py --customers 100000 --months 6 [--format csv|parquet] [--bundle DIR]

Generates the bundle with the synthetic-bank generator (or reuses ``--bundle``), loads it into a
fresh home, then reads every file once more with DuckDB alone (``CREATE TABLE AS`` of
``read_csv``/``read_parquet``, so every column is parsed) and prints a Markdown table: rows,
load seconds, rows/s, bare-read seconds and the ratio, plus peak RSS of the process.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bankcrm.cli.common import open_engine
from bankcrm.config import Settings
from bankcrm.ingest.reader import find_files
from bankcrm.ingest.service import EngineOptions, ingest_bundle


def bare_read_seconds(path: Path) -> float:
    """Seconds for DuckDB alone to parse every column of the file into a table."""
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    reader = "read_csv" if path.suffix == ".csv" else "read_parquet"
    start = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
    seconds = time.perf_counter() - start
    con.close()
    return seconds


def peak_rss_gb() -> float:
    """Peak resident set size of this process and of finished children, in GB (ru_maxrss is in KB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024 / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--bundle", type=Path, help="reuse this bundle instead of generating one")
    parser.add_argument("--work", type=Path, help="folder for the bundle and the home (default: a temp folder)")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit during validation")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bankcrm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = args.bundle
    generated = ""
    if bundle is None:
        from bankcrm.synth import generate_bundle

        bundle = work / f"bundle-{args.customers}-{args.months}-{args.format}"
        if not (bundle / f"transactions.{args.format}").exists():
            summary = generate_bundle(bundle, customers=args.customers, months=args.months, fmt=args.format)
            generated = f"generated in {summary.seconds:.1f} s"
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    engine = open_engine(settings)

    start = time.perf_counter()
    report = ingest_bundle(settings, engine, bundle, options=EngineOptions(memory_limit=args.memory_limit))
    total = time.perf_counter() - start
    engine.dispose()
    if not report.ok:
        print(report.to_json(), file=sys.stderr)
        return 1

    files, _ = find_files(bundle)
    rows = []
    bare_total = 0.0
    for bundle_file in files:
        f = report.files[bundle_file.spec.name]
        bare = bare_read_seconds(bundle_file.path)
        bare_total += bare
        rate = f.read / f.seconds if f.seconds else 0.0
        ratio = f.seconds / bare if bare else 0.0
        rows.append(
            f"| {bundle_file.label} | {f.read:,} | {f.rejected:,} | {f.seconds:.2f} | {rate:,.0f} "
            f"| {bare:.2f} | {ratio:.1f}× |"
        )
    read_total = sum(f.read for f in report.files.values())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"Ingest of {args.customers:,} customers × {args.months} months ({args.format}) — {stamp}, "
        f"{platform.machine()}, Python {platform.python_version()}, DuckDB {duckdb.__version__} {generated}\n"
    )
    print("| file | rows | rejected | load s | rows/s | bare DuckDB read s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(
        f"| **bundle** | {read_total:,} | | {total:.2f} | {read_total / total:,.0f} | {bare_total:.2f} "
        f"| {total / bare_total:.1f}× |"
    )
    print(f"\npeak RSS {peak_rss_gb():.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
