"""Maintenance-rule benchmark: the rules and tasks steps of the nightly run on a loaded bank.

    python benchmarks/rules.py --home DIR [--bundle DIR] [--as-of 2026-10-31] [--runs 2]

Loads ``--bundle`` into ``--home`` first when the home holds no bank yet (timed, not the
subject). Then runs the whole nightly job ``--runs`` times, each in its own child process so
its peak RSS is its own: the first run raises every item (tasks written in bulk), later runs
re-confirm the open ones. Reported per run: the ``rules`` step (trigger facts and every
enabled rule evaluated in the engine), the ``tasks`` step (items written in one transaction),
the whole run, items created, customers hit per rule and peak RSS, then every step's seconds
and the load average at the end of each run. ``--results FILE`` also writes them as JSON.
Target (issue 5): all default rules for 1M customers inside the nightly run ≤ 60 s on a
2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nightly import GB, child_nightly, git_commit, run_child


def load(home: Path, bundle: Path) -> float:
    from bankcrm.cli.common import open_engine
    from bankcrm.config import Settings
    from bankcrm.ingest.service import ingest_bundle

    settings = Settings(home=home)
    engine = open_engine(settings)
    try:
        started = time.perf_counter()
        report = ingest_bundle(settings, engine, bundle)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    if not report.ok:
        raise SystemExit(f"the bundle did not load cleanly:\n{report.to_json()}")
    (home / "bench-loaded.json").write_text(json.dumps({"bundle": str(bundle), "ingest_seconds": seconds}))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="home with a loaded bank (or to load into)")
    parser.add_argument("--bundle", type=Path, help="bundle to load when the home is empty")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 10, 31))
    parser.add_argument("--runs", type=int, default=2, help="nightly runs (the first raises, later ones re-confirm)")
    parser.add_argument("--results", type=Path, help="also write the runs as JSON here")
    args = parser.parse_args(argv)

    if not (args.home / "bench-loaded.json").exists():
        if args.bundle is None:
            parser.error("the home holds no loaded bank: give --bundle")
        print(f"loading {args.bundle} …", flush=True)
        print(f"  {load(args.home, args.bundle):.1f} s", flush=True)

    rows = []
    for n in range(1, args.runs + 1):
        print(f"nightly run {n} …", flush=True)
        result = run_child(child_nightly, str(args.home), "duckdb", args.as_of.isoformat())
        if not result.get("ok"):
            print(result.get("traceback") or result.get("error"), file=sys.stderr)
            return 1
        result["load_average"] = os.getloadavg()
        rows.append(result)
        t = result["timings"]
        print(
            f"  rules {t['rules']:.1f} s, tasks {t['tasks']:.1f} s, run {result['seconds']:.1f} s, "
            f"created {result['tasks_created'] + result['opportunities_created']:,}, "
            f"peak RSS {result['peak_rss_bytes'] / GB:.2f} GB",
            flush=True,
        )

    customers = rows[0]["customers"]
    print()
    print(
        f"Machine: {platform.machine()}, Python {platform.python_version()}, commit {git_commit()}, "
        f"{customers:,} customers, as_of {args.as_of}"
    )
    print()
    print("| run | rules step s | tasks step s | rules + tasks s | whole run s | items created | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, r in enumerate(rows, 1):
        t = r["timings"]
        created = r["tasks_created"] + r["opportunities_created"]
        print(
            f"| {n} | {t['rules']:.1f} | {t['tasks']:.1f} | {t['rules'] + t['tasks']:.1f} | {r['seconds']:.1f} "
            f"| {created:,} | {r['peak_rss_bytes'] / GB:.2f} GB |"
        )
    print()
    steps = list(rows[0]["timings"])
    print("| step | " + " | ".join(f"run {n} s" for n in range(1, len(rows) + 1)) + " |")
    print("|---|" + "---:|" * len(rows))
    for name in steps:
        print(f"| {name} | " + " | ".join(f"{r['timings'][name]:.1f}" for r in rows) + " |")
    print("| **whole run** | " + " | ".join(f"**{r['seconds']:.1f}**" for r in rows) + " |")
    print("| CPU seconds | " + " | ".join(f"{r['cpu_seconds']:.1f}" for r in rows) + " |")
    print(
        "| load average (1, 5, 15 min) at the end | "
        + " | ".join(", ".join(f"{x:.1f}" for x in r["load_average"]) for r in rows)
        + " |"
    )
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(
            json.dumps({"commit": git_commit(), "as_of": args.as_of.isoformat(), "runs": rows}, indent=2, default=str)
        )
    print()
    print("customers hit per rule (first run):")
    for rule_id, hits in sorted(rows[0]["rule_hits"].items()):
        print(f"- {rule_id}: {hits:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
