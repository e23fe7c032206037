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

Spark: ``connect("spark")`` reuses a SparkSession that is already running in the process (a
notebook's, a test's) and otherwise starts one (``local[*]`` unless a master URL is given)
that ``disconnect`` stops again. Files are handed to Spark's reader one by one, so it infers
no partition column from the folder names, and the columns are then cast to the lake schema
as on DuckDB.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from bankcrm import lake
from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.features import customer_features
from bankcrm.tasks.conditions import CheckedCondition

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

Engine = Literal["duckdb", "spark"]
EVENT_WINDOW_DAYS = 30
MASTER_TABLES = ("customers", "accounts", "products")

# Spark defaults for a session this module starts. The nightly run shuffles per-customer
# tables of at most a few million rows, so a handful of shuffle partitions per core is plenty
# (Spark's 200 would mostly schedule empty tasks); a cluster master gets Spark's own default.
SPARK_LOCAL_SHUFFLE_PARTITIONS = 8
SPARK_DRIVER_MEMORY = "6g"
SPARK_LOG_CONFIG = "spark-log4j2.properties"
JAVA_OPTIONS = "spark.driver.extraJavaOptions"
SPARK_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # no Hive metastore: nothing is written to the working directory, nothing to connect to
    "spark.sql.catalogImplementation": "in-memory",
    # columnar collection to the driver (to_pyarrow goes through pandas)
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
}
SPARK_LOCAL_CONF: dict[str, str] = {
    "spark.driver.memory": SPARK_DRIVER_MEMORY,
    "spark.sql.shuffle.partitions": str(SPARK_LOCAL_SHUFFLE_PARTITIONS),
    # a local driver talks only to itself; binding to loopback avoids host-name lookups
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


@dataclass
class _SparkState:
    """What this module created on one Spark connection, so ``disconnect`` can release exactly that."""

    owns_session: bool
    views: list[str] = field(default_factory=list)
    cached: list[DataFrame] = field(default_factory=list)


_SPARK: weakref.WeakKeyDictionary[BaseBackend, _SparkState] = weakref.WeakKeyDictionary()


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


def connect(
    engine: Engine = "duckdb",
    threads: int | None = None,
    spark_master: str | None = None,
    *,
    memory_limit: str | None = None,
    spill_dir: Path | None = None,
) -> BaseBackend:
    """A fresh connection for one run (``threads`` and ``memory_limit`` cap DuckDB's; ``spark_master`` is for Spark).

    With a memory limit DuckDB spills joins, sorts and aggregates to ``spill_dir`` instead of
    growing to its default of 80% of the machine's memory.
    """
    if engine == "duckdb":
        config: dict[str, object] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        if spill_dir is not None:
            spill_dir.mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(spill_dir)
        return ibis.duckdb.connect(**config)
    if engine == "spark":
        return _connect_spark(spark_master)
    raise ValueError(f"unknown engine {engine!r}; expected duckdb or spark")


def _connect_spark(master: str | None) -> BaseBackend:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the spark extra is optional
        raise RuntimeError("the spark engine needs PySpark: pip install 'bankcrm[spark]'") from exc
    session = SparkSession.getActiveSession()
    owns = session is None
    if session is None:
        session = spark_session(master)
    con = ibis.pyspark.connect(session)
    _SPARK[con] = _SparkState(owns_session=owns)
    return con


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> SparkSession:
    """A SparkSession for the nightly run (``local[*]`` unless a master URL is given; ``conf`` adds or overrides)."""
    from pyspark.sql import SparkSession

    master = master or "local[*]"
    settings = dict(SPARK_CONF)
    if master.startswith("local"):
        settings.update(SPARK_LOCAL_CONF)
        # should a Python worker ever start, it runs this interpreter, not whichever python3 is on PATH
        settings["spark.pyspark.python"] = sys.executable
        log_config = Path(__file__).with_name(SPARK_LOG_CONFIG)
        if log_config.is_file():
            # read by the driver JVM as it starts, so even the start-up warnings stay quiet (a
            # cluster's driver options are left to its spark-defaults.conf)
            settings[JAVA_OPTIONS] = f"-Dlog4j2.configurationFile={log_config.as_uri()}"
    for key, value in (conf or {}).items():
        if key == JAVA_OPTIONS and JAVA_OPTIONS in settings:
            value = f"{settings[key]} {value}"  # keep the quiet logging as well
        settings[key] = value
    builder = SparkSession.builder.master(master).appName("bankcrm-nightly")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def disconnect(con: BaseBackend) -> None:
    """Close the connection; on Spark, drop this run's views and caches, and stop the session only if we started it."""
    state = _SPARK.pop(con, None)
    if state is None:
        con.disconnect()
        return
    session = _session(con)
    for df in state.cached:
        df.unpersist()
    for view in state.views:
        session.catalog.dropTempView(view)
    if state.owns_session:
        session.stop()


def _session(con: BaseBackend) -> SparkSession:
    return con._session


def _spark_view(con: BaseBackend, df: DataFrame, name: str, *, cache: bool = False) -> ir.Table:
    """Register a Spark DataFrame as a temporary view of this run (cached and computed now if asked)."""
    state = _SPARK[con]
    if cache:
        df = df.cache()
        df.count()  # compute it here, so the step that asked for it is the one timed
        state.cached.append(df)
    df.createOrReplaceTempView(name)
    state.views.append(name)
    return con.table(name)


def materialize(con: BaseBackend, expr: ir.Table, name: str) -> ir.Table:
    """Compute ``expr`` once into a temporary table, so later steps reuse it instead of recomputing it."""
    if con.name == "pyspark":
        return _spark_view(con, _session(con).sql(con.compile(expr)), name, cache=True)
    return con.create_table(name, expr, temp=True, overwrite=True)


def write_parquet(con: BaseBackend, expr: ir.Table, path: Path) -> None:
    """Write ``expr`` to one Parquet file atomically (a temporary name, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    if con.name == "duckdb":
        con.to_parquet(expr, tmp)
    else:
        pq.write_table(con.to_pyarrow(expr), tmp)
    os.replace(tmp, path)


def _read_parquet(con: BaseBackend, paths: list[Path], schema: pa.Schema) -> ir.Table:
    """Files as one table with exactly ``schema``'s columns and types (an empty table when there are none)."""
    if con.name == "pyspark":
        table = _read_parquet_spark(con, paths, schema)
    elif not paths:
        return con.create_table(ibis.util.gen_name("empty"), schema.empty_table(), temp=True)
    else:
        # later bundles may add a column; reading by name keeps older files usable
        table = con.read_parquet([str(p) for p in paths], hive_partitioning=False, union_by_name=True)
    wanted = ibis.schema({f.name: ibis.dtype(f.type) for f in schema})
    # keyword form: a cast that is not a no-op (Spark's timestamps) would otherwise rename the column
    return table.select(**{name: table[name].cast(dtype) for name, dtype in wanted.items()})


def _read_parquet_spark(con: BaseBackend, paths: list[Path], schema: pa.Schema) -> ir.Table:
    from ibis.backends.pyspark.datatypes import PySparkSchema

    session = _session(con)
    spark_schema = PySparkSchema.from_ibis(ibis.schema({f.name: ibis.dtype(f.type) for f in schema}))
    if not paths:
        # from Arrow, not from a Python list: a list becomes an RDD whose tasks start Python workers
        df = session.createDataFrame(schema.empty_table(), schema=spark_schema)
    else:
        # Given the schema, Spark reads columns by name (null where an older file lacks one, as
        # DuckDB's union_by_name) without a job to infer it; given files rather than folders,
        # it takes each file's own folder as the base path and adds no ``month`` column.
        df = session.read.schema(spark_schema).parquet(*(str(p.resolve()) for p in paths))
    return _spark_view(con, df, ibis.util.gen_name("lake"))


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


def feature_expression(
    inputs: NightlyInputs,
    as_of: date,
    config: NightlyConfig,
    *,
    account_sums: ir.Table | None = None,
    customer_summary: ir.Table | None = None,
) -> ir.Table:
    """The SPEC 4.1/4.2/4.4-input feature table of one run, ordered by customer_id (shared aggregates if given)."""
    features = customer_features(
        inputs.customers,
        inputs.accounts,
        inputs.products,
        inputs.balances,
        inputs.transactions,
        as_of,
        config,
        account_sums=account_sums,
        customer_summary=customer_summary,
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
        disconnect(con)


@dataclass(frozen=True)
class RulePreview:
    """How many customers a condition hits in a published rule table, and a few of them."""

    customers: int
    hits: int
    sample: list[dict[str, object]]


def preview_rule(path: Path, condition: CheckedCondition, *, sample: int = 20) -> RulePreview:
    """Evaluate a checked condition over a run's rule table file on DuckDB (seconds even at 1M customers)."""
    con = ibis.duckdb.connect()
    try:
        table = con.read_parquet(str(path))
        hit = condition.to_ibis(table)
        columns = ["customer_id", "tier", "segment", *(c for c in condition.columns if c not in ("tier", "segment"))]
        rows = con.to_pyarrow(table.filter(hit).select(*columns).order_by("customer_id").limit(sample))
        total = int(con.to_pyarrow(table.count()).as_py())
        hits = int(con.to_pyarrow(table.filter(hit).count()).as_py())
        return RulePreview(customers=total, hits=hits, sample=rows.to_pylist())
    finally:
        con.disconnect()
