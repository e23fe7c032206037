"""Generator benchmark: rows per file, seconds, rows/s and peak RSS of ``bankcrm generate``.

    python benchmarks/generate.py --customers 100000 --months 6 [--format csv|parquet] [--out DIR]

Prints a Markdown table row. The CPU seconds are reported next to the wall-clock time because
on a shared machine the wall clock also measures the neighbours.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import tempfile
from datetime import date
from pathlib import Path

from bankcrm.synth import generate_bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--out", type=Path, help="bundle folder (default: a temporary folder, removed afterwards)")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="bankcrm-gen-"))
    before = resource.getrusage(resource.RUSAGE_SELF)
    summary = generate_bundle(
        out,
        customers=args.customers,
        months=args.months,
        seed=args.seed,
        as_of=args.as_of,
        fmt=args.format,
        progress=True,
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e9
    if args.out is None:
        shutil.rmtree(out)
    total = sum(summary.rows.values())
    print(f"\n{platform.node()} · {platform.processor() or platform.machine()} · Python {platform.python_version()}")
    print("| customers | months | format | transactions | all rows | wall s | CPU s | tx/s (wall) | rows/s (wall) "
          "| tx/s (CPU) | peak RSS GB | bundle GB |")  # fmt: skip
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.customers:,} | {args.months} | {args.format} | {summary.rows['transactions']:,} | {total:,} "
        f"| {summary.seconds:.1f} | {cpu:.1f} | {summary.transactions_per_second:,.0f} "
        f"| {summary.rows_per_second:,.0f} | {summary.rows['transactions'] / cpu:,.0f} "
        f"| {after.ru_maxrss / 1024 / 1024:.2f} | {size:.2f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
