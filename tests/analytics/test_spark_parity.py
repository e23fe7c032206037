"""The Spark engine: the lake read as on DuckDB, and a whole nightly run publishing the same scores.

One local SparkSession serves the module (``engines.connect`` reuses a running session and
leaves it running). Skipped when PySpark is not installed; CI installs the ``spark`` extra.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install -e '.[spark]')")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("Java is not installed (PySpark needs Java 17)", allow_module_level=True)

# the hand-worked lake of the DuckDB tests, as a fixture here too
from test_engines import AS_OF, tiny_lake

from bankcrm import lake
from bankcrm.analytics import engines, publish
from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.nightly import run_nightly
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.db.migrate import upgrade
from bankcrm.ingest.service import ingest_bundle
from bankcrm.scores.service import EXPORT_COLUMNS, export_scores
from bankcrm.synth.bundle import generate_bundle

pytestmark = pytest.mark.spark

__all__ = ["tiny_lake"]

# two month-ends: the second run reads the first from the tier history (hysteresis)
FIRST_AS_OF = date(2026, 8, 31)
SECOND_AS_OF = date(2026, 9, 30)
RELATIVE_TOLERANCE = 1e-9
ENGINES: tuple[engines.Engine, ...] = ("duckdb", "spark")


# Small inputs, short-lived JVM: the time goes into planning and compiling, not into the data,
# so skip whole-stage code generation and the JIT's slow optimising tier, and shuffle into 2.
TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.codegen.wholeStage": "false",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = engines.spark_session("local[2]", TEST_SPARK_CONF)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bank") / "bundle"
    generate_bundle(out, customers=400, months=9, seed=7, as_of=SECOND_AS_OF, fmt="parquet")
    return out


def _exports_of_two_runs(
    home: Path, bundle: Path, engine: engines.Engine, out_dir: Path, rule_tables: list[pa.Table]
) -> list[pa.Table]:
    """Load the bundle into a fresh home, run both as_of dates on ``engine``, export each run.

    Each run's rule table (scores and trigger facts, what the maintenance rules read) goes to ``rule_tables``.
    """
    settings = Settings(home=home)
    db = make_engine(settings)
    try:
        upgrade(db)
        ingest_bundle(settings, db, bundle)
        exports = []
        for as_of in (FIRST_AS_OF, SECOND_AS_OF):
            result = run_nightly(settings, db, as_of, engine=engine)
            assert result.engine == engine
            out = out_dir / f"{engine}-{as_of}.parquet"
            with session_scope(session_factory(db)) as session:
                export_scores(session, result.run_id, out)
            exports.append(pq.read_table(out))
            rule_table = pq.read_table(publish.rule_table_file(settings.lake_dir, result.run_id))
            rule_tables.append(rule_table.sort_by("customer_id"))
        return exports
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def runs(spark: Any, bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[pa.Table]]:
    root = tmp_path_factory.mktemp("runs")
    out: dict[str, list[pa.Table]] = {}
    for engine in ENGINES:
        out[f"{engine}-rules"] = []
        out[engine] = _exports_of_two_runs(root / engine, bundle, engine, root, out[f"{engine}-rules"])
    return out


def _differences(left: pa.Table, right: pa.Table) -> list[str]:
    """Cells that differ: exactly for labels, integers and dates; beyond 1e-9 relative for floats."""
    found: list[str] = []
    ids = left.column("customer_id").to_pylist()
    for name in left.column_names:
        floating = pa.types.is_floating(left.schema.field(name).type)
        for customer_id, a, b in zip(ids, left.column(name).to_pylist(), right.column(name).to_pylist(), strict=True):
            same = (
                a is None and b is None
                if a is None or b is None
                else math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)
                if floating
                else a == b
            )
            if not same:
                found.append(f"{customer_id}.{name}: duckdb {a!r}, spark {b!r}")
    return found


@pytest.mark.slow
def test_a_nightly_run_on_spark_publishes_what_duckdb_publishes(runs: dict[str, list[pa.Table]]) -> None:
    for duck, spark in zip(runs["duckdb"], runs["spark"], strict=True):
        assert duck.column_names == spark.column_names == list(EXPORT_COLUMNS)
        assert duck.num_rows == spark.num_rows == 400
        assert duck.column("customer_id").equals(spark.column("customer_id"))
        differences = _differences(duck, spark)
        assert not differences, "\n".join(differences[:20])
    # every label occurs, so the comparison covered each branch of the rules
    latest = runs["spark"][1]
    assert set(latest.column("tier_raw").to_pylist()) == {"vip", "potential", "ordinary"}
    assert set(latest.column("segment").to_pylist()) == {"A", "B", "C", "D"}
    assert set(latest.column("value_class").to_pylist()) == {"loss", "breakeven", "micro_profit", "high_value"}
    assert latest.column("aum_growth_6m").null_count > 0


@pytest.mark.slow
def test_the_maintenance_rules_read_the_same_trigger_facts_on_spark(runs: dict[str, list[pa.Table]]) -> None:
    payee = "new_payee_outflow_counterparty"
    for duck, spark in zip(runs["duckdb-rules"], runs["spark-rules"], strict=True):
        assert duck.column_names == spark.column_names
        assert duck.num_rows == spark.num_rows == 400
        # counterparties are pseudonymised with each home's own key: compare where they are set
        assert duck.column(payee).is_null().equals(spark.column(payee).is_null())
        duck, spark = duck.drop_columns([payee]), spark.drop_columns([payee])
        differences = _differences(duck, spark)
        assert not differences, "\n".join(differences[:20])
    # the facts are not all empty: birthdays, maturities and open accounts occur in a 400-customer bank
    latest = runs["spark-rules"][1]
    assert latest.column("days_to_birthday").null_count == 0
    assert max(latest.column("open_deposit_current_accounts").to_pylist()) >= 1


@pytest.mark.slow
def test_the_second_spark_run_holds_downgrades_from_the_tier_history(runs: dict[str, list[pa.Table]]) -> None:
    first, second = (t.to_pylist() for t in runs["spark"])
    before = {r["customer_id"]: r["tier"] for r in first}
    rank = {"ordinary": 1, "potential": 2, "vip": 3}
    held = [r for r in second if rank[r["tier_raw"]] < rank[before[r["customer_id"]]]]
    # one earlier month-end is not three: every lower tier_raw keeps the earlier tier
    assert held, "the generated bank should have some customer whose raw tier fell"
    assert all(r["tier"] == before[r["customer_id"]] for r in held)
    # without history the first run published tier_raw as it was
    assert all(r["tier"] == r["tier_raw"] for r in first)


def test_spark_reads_the_lake_schema_exactly(spark: Any, tiny_lake: Path) -> None:
    con = engines.connect("spark")
    try:
        inputs = engines.read_lake(con, tiny_lake, AS_OF)
        for name, schema in {**lake.MASTER_SCHEMAS, **lake.FACT_SCHEMAS}.items():
            table = getattr(inputs, name, None)
            if table is None:
                continue
            # no ``month`` column from the folder names, and the lake's names in the lake's order
            assert table.columns == tuple(schema.names), name
        transactions = con.to_pyarrow(inputs.transactions.order_by("tx_id")).to_pylist()
        # dates are read as dates: T1 is 1 April in Shanghai although 31 March in UTC
        assert [(t["tx_id"], t["tx_date"]) for t in transactions] == [
            ("T1", date(2026, 4, 1)),
            ("T2", date(2026, 3, 31)),
            ("T3", date(2026, 6, 30)),
        ]
        assert engines.history_start(con, inputs) == date(2025, 1, 15)

        empty = engines.read_tier_history(con, [])
        assert con.to_pyarrow(empty).schema == lake.TIER_HISTORY_SCHEMA
        features = engines.materialize(con, engines.feature_expression(inputs, AS_OF, NightlyConfig()), "features")
        assert con.to_pyarrow(features.count()).as_py() == 2
    finally:
        engines.disconnect(con)
    # the session belonged to the fixture, so it is still running; this run's views are gone
    assert not spark.sparkContext._jsc.sc().isStopped()
    assert "features" not in {t.name for t in spark.catalog.listTables()}


def test_spark_features_match_the_hand_worked_duckdb_answer(spark: Any, tiny_lake: Path) -> None:
    duck = engines.compute_features(tiny_lake, AS_OF, threads=1)
    on_spark = engines.compute_features(tiny_lake, AS_OF, backend="spark")
    assert on_spark.schema == duck.schema
    assert on_spark.equals(duck)
