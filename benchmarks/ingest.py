"""Ingest benchmark: time each file's load and the whole bundle against a bare DuckDB read of the same files.

    python benchmarks/ingest.py --customers 100000 --months 6 [--format csv|parquet] [--bundle DIR] [--floors]

Generates the bundle with the synthetic-bank generator (or reuses ``--bundle``), loads it into a
fresh home, then reads every file once more with DuckDB alone (``CREATE TABLE AS`` of
``read_csv``/``read_parquet``, so every column is parsed) and prints a Markdown table: rows,
load seconds, rows/s, bare-read seconds and the ratio, the highest resident set size seen
while the file loaded (sampled every 50 ms), then the peak RSS of the load and the per-step
split of each file (the report's ``file_steps``). The bare reads run after the load, so the
load's peak RSS is taken before them. ``--floors`` adds, per fact file, a bare rewrite of the
file into Parquet month folders (no checks), the least a loader that lays facts out by month
must do, beside the bare read already taken, so the load can be compared with that too; and,
for customers and accounts, the least a loader that keeps them encrypted in SQLite must do:
encrypt the sensitive columns with the home's key (and blind-index the looked-up ones), insert
the rows unchecked into an empty copy of the table with plain ``sqlite3``, index, commit.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bankcrm.cli.common import open_engine
from bankcrm.config import Settings
from bankcrm.ingest.reader import find_files
from bankcrm.ingest.service import EngineOptions, ingest_bundle
from bankcrm.security.crypto import FieldCipher, cipher_for
from bankcrm.security.rotation import ENCRYPTED_COLUMNS

STEPS = ("parent_keys", "read_and_check", "duplicates", "rejects", "database", "lake")


def bare_read_seconds(path: Path) -> float:
    """Seconds for DuckDB alone to parse every column of the file into a table."""
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    start = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {_reader(path)}")
    seconds = time.perf_counter() - start
    con.close()
    return seconds


def _reader(path: Path) -> str:
    return f"{'read_csv' if path.suffix == '.csv' else 'read_parquet'}('{path}')"


# the column that decides a fact row's month folder in the lake
MONTH_OF = {"balances": "date", "transactions": "ts", "behavior_events": "ts"}


def rewrite_seconds(path: Path, table: str, out: Path, memory_limit: str) -> float:
    """Seconds for DuckDB alone to read the file and write it as Parquet month folders, as the lake is laid out.

    No checks, no keys, no pseudonyms: the least any loader that keeps the facts by month must do.
    """
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{out}.spill'")
    month = f"strftime(CAST({MONTH_OF[table]} AS DATE), '%Y-%m')"
    start = time.perf_counter()
    months = f"SELECT *, {month} AS month FROM {_reader(path)}"
    con.execute(f"COPY ({months}) TO '{out}' (FORMAT parquet, PARTITION_BY (month))")
    seconds = time.perf_counter() - start
    con.close()
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(f"{out}.spill", ignore_errors=True)
    return seconds


# the extract files whose rows carry field ciphertext (customers, accounts), by table name
ENCRYPTED = {e.table.name: e for e in ENCRYPTED_COLUMNS}


def master_floor_seconds(path: Path, table: str, db: Path, scratch: Path, cipher: FieldCipher) -> tuple[float, float]:
    """Seconds to encrypt the file's sensitive columns, and to insert its rows into an empty copy of ``table``.

    The copy has the loaded database's schema for the table (its indexes built after the rows,
    as the loader does for a first load); values go in as the file's text, unchecked, through
    plain ``sqlite3`` with one ``executemany`` and one commit: no checks, fingerprints, contact
    versions, consent events or lake snapshot.
    """
    read = f"read_csv('{path}', all_varchar = true)" if path.suffix == ".csv" else f"read_parquet('{path}')"
    data = duckdb.sql(f"SELECT * FROM {read}").fetchnumpy()
    columns = {name: [None if v is None else str(v) for v in values.tolist()] for name, values in data.items()}
    start = time.perf_counter()
    encrypted = ENCRYPTED[table]
    # each ciphertext column seals the extract column its context names; the looked-up ones have a blind index
    for column, context in encrypted.contexts.items():
        values = columns.get(context, [None] * len(next(iter(columns.values()))))
        columns[column] = cipher.encrypt_many(values, context=context)
        if f"{context}_bidx" in encrypted.table.c:
            columns[f"{context}_bidx"] = cipher.blind_index_many(values, field=context)
    encrypt = time.perf_counter() - start
    with sqlite3.connect(db) as source:
        ddl = source.execute("SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", (table,))
        statements = ddl.fetchall()
    scratch.unlink(missing_ok=True)
    con = sqlite3.connect(scratch)
    con.execute("PRAGMA foreign_keys = OFF")
    con.execute("PRAGMA cache_size = -262144")
    for kind, sql in statements:
        if kind == "table":
            con.execute(sql)
    info = con.execute(f"PRAGMA table_info({table})").fetchall()
    names = [r[1] for r in info]
    n = len(next(iter(columns.values())))
    # a column the file does not have (stamps, fingerprints, versions): a constant where it may not be null
    filler = {r[1]: [None if not r[3] else "0"] * n for r in info}
    rows = list(zip(*(columns.get(c, filler[c]) for c in names), strict=True))
    start = time.perf_counter()
    con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(names))})", rows)
    for kind, sql in statements:
        if kind == "index":
            con.execute(sql)
    con.commit()
    insert = time.perf_counter() - start
    con.close()
    scratch.unlink(missing_ok=True)
    return encrypt, insert


def peak_rss_gb() -> float:
    """Peak resident set size so far of this process and of finished children, in GB (ru_maxrss is in KB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024 / 1024


class RssSampler:
    """Samples this process's resident set size and keeps the highest value per file being loaded."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.current = "(start)"
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = resource.getpagesize()

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self._rss()
            if rss > self.peak.get(self.current, 0):
                self.peak[self.current] = rss
            self._stop.wait(self.interval)

    def on_file(self, name: str) -> None:
        self.current = name

    def __enter__(self) -> RssSampler:
        if Path("/proc/self/statm").exists():
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--bundle", type=Path, help="reuse this bundle instead of generating one")
    parser.add_argument("--work", type=Path, help="folder for the bundle and the home (default: a temp folder)")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit during validation")
    parser.add_argument(
        "--floors", action="store_true", help="also time a bare rewrite of each fact file into month folders"
    )
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
    if not find_files(bundle)[0]:
        raise SystemExit(f"{bundle}: no extract files (customers.parquet, transactions.csv, …) to load")
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    engine = open_engine(settings)

    start = time.perf_counter()
    with RssSampler() as sampler:
        report = ingest_bundle(
            settings, engine, bundle, options=EngineOptions(memory_limit=args.memory_limit), on_file=sampler.on_file
        )
    total = time.perf_counter() - start
    # before the bare reads: an in-memory DuckDB table of a big file costs far more than the load itself
    load_peak = peak_rss_gb()
    engine.dispose()
    if not report.ok:
        print(report.to_json(), file=sys.stderr)
        return 1

    files, _ = find_files(bundle)
    rows = []
    steps = []
    bare_reads: dict[str, float] = {}
    for bundle_file in files:
        f = report.files[bundle_file.spec.name]
        bare = bare_reads[bundle_file.spec.name] = bare_read_seconds(bundle_file.path)
        rate = f.read / f.seconds if f.seconds else 0.0
        ratio = f.seconds / bare if bare else 0.0
        rss = sampler.peak.get(bundle_file.spec.name, 0) / 2**30
        rows.append(
            f"| {bundle_file.label} | {f.read:,} | {f.rejected:,} | {f.seconds:.2f} | {rate:,.0f} "
            f"| {bare:.2f} | {ratio:.1f}× | {rss:.2f} |"
        )
        steps.append(f"| {bundle_file.label} | " + " | ".join(f"{f.steps.get(s, 0):.2f}" for s in STEPS) + " |")
    read_total = sum(f.read for f in report.files.values())
    bare_total = sum(bare_reads.values())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"Ingest of {args.customers:,} customers × {args.months} months ({args.format}) — {stamp}, "
        f"{platform.machine()}, Python {platform.python_version()}, DuckDB {duckdb.__version__} {generated}\n"
    )
    print("| file | rows | rejected | load s | rows/s | bare DuckDB read s | ratio | peak RSS GB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(
        f"| **bundle** | {read_total:,} | | {total:.2f} | {read_total / total:,.0f} | {bare_total:.2f} "
        f"| {total / bare_total:.1f}× | {max(sampler.peak.values(), default=0) / 2**30:.2f} |"
    )
    load_avg = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\npeak RSS of the load {load_peak:.2f} GB (with the bare reads {peak_rss_gb():.2f} GB), "
        f"load average {load_avg}\n"
    )
    print("| file | " + " | ".join(STEPS) + " |")
    print("|---|" + "---:|" * len(STEPS))
    print("\n".join(steps))
    if args.floors:
        print("\n| file | bare read s | rewrite into months s | rewrite / read | load / rewrite |")
        print("|---|---:|---:|---:|---:|")
        for bundle_file in files:
            name = bundle_file.spec.name
            if name not in MONTH_OF:
                continue
            bare = bare_reads[name]
            rewrite = rewrite_seconds(bundle_file.path, name, work / "rewrite", args.memory_limit)
            load = report.files[name].seconds
            ratios = f"{rewrite / bare:.1f}× | {load / rewrite:.1f}×"
            print(f"| {bundle_file.label} | {bare:.2f} | {rewrite:.2f} | {ratios} |")
        print("\n| file | bare read s | encrypt s | insert into SQLite s | floor / read | load / floor |")
        print("|---|---:|---:|---:|---:|---:|")
        cipher = cipher_for(settings.effective_key_file)
        for bundle_file in files:
            name = bundle_file.spec.name
            if name not in ENCRYPTED:
                continue
            bare = bare_reads[name]
            db = home / "bankcrm.db"
            encrypt, insert = master_floor_seconds(bundle_file.path, name, db, work / "floor.db", cipher)
            floor = encrypt + insert
            load = report.files[name].seconds
            ratios = f"{floor / bare:.1f}× | {load / floor:.1f}×"
            print(f"| {bundle_file.label} | {bare:.2f} | {encrypt:.2f} | {insert:.2f} | {ratios} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
