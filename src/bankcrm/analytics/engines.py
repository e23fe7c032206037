"""Where the nightly expressions meet an engine: reading the lake into Ibis tables and running them.

Everything backend-specific lives here; features/tiers/value only build Ibis expressions, so a
Spark backend needs a connection and a Parquet reader, not new analytics code.

Month folders read for a run at as_of (``bankcrm.lake`` layout; only these are opened):

- balances: every month up to as_of's month — carrying a balance forward needs the latest row
  before each window, however old;
- transactions: every month up to as_of's month. The activity windows only need
  [as_of − 271, as_of], but ``last_tx_date`` (SPEC 4.2) is the latest customer-initiated
  transaction ever, so older months are read too (only the few columns the expressions use);
- behavior_events: the months covering [as_of − 29, as_of].

The ``month=YYYY-MM`` folder names are hive partitions; folders are chosen here by name and
the partition column itself is not read (it repeats the date column), so all engines see the
lake schema exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from bankcrm import lake
from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.features import customer_features

Engine = Literal["duckdb", "spark"]
EVENT_WINDOW_DAYS = 30
MASTER_TABLES = ("customers", "accounts", "products")


@dataclass(frozen=True)
class NightlyInputs:
    """The lake tables one nightly run reads, as Ibis tables on one connection."""

    customers: ir.Table
    accounts: ir.Table
    products: ir.Table
    balances: ir.Table
    transactions: ir.Table
    behavior_events: ir.Table


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_covering(first: date, last: date) -> list[str]:
    """``YYYY-MM`` of every month that has a day in [first, last]."""
    months: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def fact_months_to_read(lake_dir: Path, table: str, as_of: date) -> list[str]:
    """The month folders of ``table`` a run at as_of reads (see the module docstring), present in the lake."""
    present = lake.months_present(lake_dir, table)
    if table == "behavior_events":
        wanted = set(months_covering(as_of - timedelta(days=EVENT_WINDOW_DAYS - 1), as_of))
        return [m for m in present if m in wanted]
    if table in ("balances", "transactions"):
        return [m for m in present if m <= month_key(as_of)]
    raise ValueError(f"unknown fact table {table!r}")


def connect(engine: Engine = "duckdb", threads: int | None = None, spark_master: str | None = None) -> BaseBackend:
    """A fresh in-memory connection for one run (``threads`` caps DuckDB's; ``spark_master`` is for Spark)."""
    if engine == "duckdb":
        return ibis.duckdb.connect(threads=threads) if threads else ibis.duckdb.connect()
    # the expressions are engine-neutral; the Spark session and reader are the part still to build
    raise NotImplementedError(f"engine {engine!r} is not available yet; use duckdb")


def disconnect(con: BaseBackend) -> None:
    con.disconnect()


def materialize(con: BaseBackend, expr: ir.Table, name: str) -> ir.Table:
    """Compute ``expr`` once into a temporary table, so later steps reuse it instead of recomputing it."""
    return con.create_table(name, expr, temp=True, overwrite=True)


def _read_parquet(con: BaseBackend, paths: list[Path], schema: pa.Schema) -> ir.Table:
    """Files as one table with exactly ``schema``'s columns and types (an empty table when there are none)."""
    if not paths:
        return con.create_table(ibis.util.gen_name("empty"), schema.empty_table(), temp=True)
    options: dict[str, bool] = {}
    if con.name == "duckdb":
        # later bundles may add a column; reading by name keeps older files usable
        options = {"hive_partitioning": False, "union_by_name": True}
    table = con.read_parquet([str(p) for p in paths], **options)
    wanted = ibis.schema({f.name: ibis.dtype(f.type) for f in schema})
    return table.select(*(table[name].cast(dtype) for name, dtype in wanted.items()))


def read_tier_history(con: BaseBackend, files: list[Path]) -> ir.Table:
    """Earlier published tiers (customer_id, as_of, tier_raw, tier) from the given Parquet files, for hysteresis."""
    return _read_parquet(con, files, lake.TIER_HISTORY_SCHEMA)


def history_start(con: BaseBackend, inputs: NightlyInputs) -> date | None:
    """The first day of the loaded history: the earliest balance or transaction date read (None when empty)."""
    firsts = [
        con.to_pyarrow(inputs.balances.date.min()).as_py(),
        con.to_pyarrow(inputs.transactions.tx_date.min()).as_py(),
    ]
    days = [d for d in firsts if d is not None]
    return min(days) if days else None


def read_lake(con: BaseBackend, lake_dir: Path, as_of: date) -> NightlyInputs:
    """The master snapshot and the fact months a run at as_of needs."""
    tables: dict[str, ir.Table] = {}
    for name in MASTER_TABLES:
        path = lake.master_path(lake_dir, name)
        tables[name] = _read_parquet(con, [path] if path.exists() else [], lake.MASTER_SCHEMAS[name])
    for name, schema in lake.FACT_SCHEMAS.items():
        folders = [lake.month_dir(lake_dir, name, m) for m in fact_months_to_read(lake_dir, name, as_of)]
        files = sorted(f for folder in folders for f in folder.glob("*.parquet"))
        tables[name] = _read_parquet(con, files, schema)
    return NightlyInputs(**tables)


def feature_expression(inputs: NightlyInputs, as_of: date, config: NightlyConfig) -> ir.Table:
    """The SPEC 4.1/4.2/4.4-input feature table of one run, ordered by customer_id."""
    features = customer_features(
        inputs.customers,
        inputs.accounts,
        inputs.products,
        inputs.balances,
        inputs.transactions,
        as_of,
        config,
    )
    return features.order_by("customer_id")


def compute_features(
    lake_dir: Path,
    as_of: date,
    config: NightlyConfig | None = None,
    backend: Engine = "duckdb",
    threads: int | None = None,
) -> pa.Table:
    """Run the feature expression over the lake at as_of and return it as Arrow, one row per customer."""
    config = config or NightlyConfig()
    con = connect(backend, threads)
    try:
        inputs = read_lake(con, lake_dir, as_of)
        return con.to_pyarrow(feature_expression(inputs, as_of, config))
    finally:
        con.disconnect()
