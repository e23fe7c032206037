"""generate_bundle: the whole synthetic extract, chunk by chunk, in bounded memory."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bankcrm.synth.book import Book, assemble
from bankcrm.synth.faults import finish, inject
from bankcrm.synth.master import PRODUCTS, Organisation, build_organisation
from bankcrm.synth.people import OrgArrays, draw_people, people_table
from bankcrm.synth.planted import PLANTED_COUNT, plant
from bankcrm.synth.population import Context, generate_chunk, nav_paths
from bankcrm.synth.writer import FILES, BundleWriter, Format, bundle_path

# Fixed, so a customer's rows depend only on (seed, as_of, months, customer number), never on memory.
CHUNK_CUSTOMERS = 10_000
MIN_CUSTOMERS = 100
EPOCH = date(1970, 1, 1)
# spawn keys of the seed streams that are not bulk chunks
_ORG_KEY, _NAV_KEY, _PLANTED_KEY = 2**40, 2**40 + 1, 2**40 + 2


@dataclass
class BundleSummary:
    out_dir: str
    format: str
    customers: int
    months: int
    seed: int
    as_of: str
    first_day: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rows_per_second: float = 0.0
    transactions_per_second: float = 0.0
    planted: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def default_as_of() -> date:
    """Yesterday in Asia/Shanghai: the last complete business day of the nightly extract."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)


def history_start(as_of: date, months: int) -> date:
    """First day of ``months`` months of history ending at as_of (the day after as_of, months back)."""
    y, m = divmod(as_of.year * 12 + as_of.month - 1 - months, 12)
    m += 1
    last = (date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(as_of.day, last)) + timedelta(days=1)


def _rng(seed: int, key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


def _master_tables(org: Organisation) -> dict[str, pa.Table]:
    return {
        "branches": pa.Table.from_pylist([vars(b) for b in org.branches]),
        "staff": pa.Table.from_pylist([vars(s) for s in org.staff]),
        "products": pa.Table.from_pylist([vars(p) for p in PRODUCTS]),
    }


def generate_bundle(
    out_dir: Path | str,
    *,
    customers: int = 20_000,
    months: int = 12,
    seed: int = 42,
    as_of: date | None = None,
    fmt: Format = "csv",
    progress: bool = False,
    inject_errors: bool = False,
    console: Console | None = None,
) -> BundleSummary:
    """Write a synthetic extract bundle (SPEC section 3) and return what was written and how fast."""
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"need at least {MIN_CUSTOMERS} customers")
    if months < 1:
        raise ValueError("need at least one month of history")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}")
    as_of = as_of or default_as_of()
    first = history_start(as_of, months)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in (*FILES, "expected_load"):
        for ext in ("csv", "parquet", "json"):
            (out / f"{name}.{ext}").unlink(missing_ok=True)

    started = time.perf_counter()
    org = build_organisation(customers, _rng(seed, _ORG_KEY))
    orgs = OrgArrays.of(org)
    as_of_day, first_day = (as_of - EPOCH).days, (first - EPOCH).days
    ctx = Context(
        as_of=as_of_day, first_day=first_day, orgs=orgs, nav=nav_paths(_rng(seed, _NAV_KEY), as_of_day, first_day)
    )
    writer = BundleWriter(out, fmt)
    for name, table in _master_tables(org).items():
        writer.write(name, table)

    summary = BundleSummary(str(out), fmt, customers, months, seed, as_of.isoformat(), first.isoformat())
    bar = Progress(
        TextColumn("[bold]generate[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("customers · {task.fields[tx]:,} transactions · {task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    )
    with bar:
        task = bar.add_task("customers", total=customers, tx=0, rate=0.0)

        def emit(cust_no: np.ndarray, tables: dict[str, pa.Table], people_tab: pa.Table) -> None:
            writer.write("customers", people_tab)
            for name in ("accounts", "balances", "transactions", "behavior_events"):
                writer.write(name, tables[name])
            elapsed = time.perf_counter() - started
            total = sum(writer.rows.values())
            bar.update(task, advance=cust_no.size, tx=writer.rows["transactions"], rate=total / max(elapsed, 1e-9))

        # planted customers first: customer numbers 1..PLANTED_COUNT
        rng = _rng(seed, _PLANTED_KEY)
        cust_no = np.arange(1, PLANTED_COUNT + 1, dtype=np.int64)
        people = draw_people(rng, cust_no, as_of_day, orgs)
        book = Book()
        rules = plant(book, people, ctx, rng)
        for no, rule in zip(cust_no, rules, strict=True):
            summary.planted.setdefault(rule, []).append(f"C{no:09d}")
        emit(cust_no, assemble(book, cust_no, as_of_day, first_day), people_table(people, rng, orgs))

        for k, start in enumerate(range(PLANTED_COUNT + 1, customers + 1, CHUNK_CUSTOMERS)):
            rng = _rng(seed, k)
            cust_no = np.arange(start, min(start + CHUNK_CUSTOMERS, customers + 1), dtype=np.int64)
            people = draw_people(rng, cust_no, as_of_day, orgs)
            table = people_table(people, rng, orgs)
            book = generate_chunk(rng, people, ctx)
            emit(cust_no, assemble(book, cust_no, as_of_day, first_day), table)

    faults = inject(writer, ctx) if inject_errors else []
    writer.close()
    if inject_errors:
        finish(writer, out, fmt, faults)
    summary.rows = dict(writer.rows)
    summary.seconds = round(time.perf_counter() - started, 3)
    total = sum(summary.rows.values())
    summary.rows_per_second = round(total / max(summary.seconds, 1e-9), 1)
    summary.transactions_per_second = round(summary.rows["transactions"] / max(summary.seconds, 1e-9), 1)
    assert all(bundle_path(out, n, fmt).exists() for n in FILES)
    return summary
