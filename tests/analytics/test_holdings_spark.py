"""Positions and the month-end trend give the same numbers on Spark as on DuckDB."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install -e '.[spark]')")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("Java is not installed (PySpark needs Java 17)", allow_module_level=True)

from bankcrm import lake
from bankcrm.analytics import engines
from bankcrm.analytics.holdings import account_month_balances, account_positions, customer_month_aum_wide

pytestmark = pytest.mark.spark
AS_OF = date(2026, 6, 30)
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.codegen.wholeStage": "false",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = engines.spark_session("local[2]", SPARK_CONF)
    yield session
    session.stop()


def _write(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    accounts = [
        {"account_id": "D1", "customer_id": "C1", "product_id": "deposit_current", "opened_on": date(2020, 1, 1)},
        {"account_id": "F1", "customer_id": "C1", "product_id": "fund", "opened_on": date(2020, 1, 1)},
        {"account_id": "L1", "customer_id": "C1", "product_id": "loan_mortgage", "opened_on": date(2020, 1, 1)},
        {
            "account_id": "X1",
            "customer_id": "C2",
            "product_id": "deposit_time",
            "opened_on": date(2020, 1, 1),
            "closed_on": date(2026, 6, 20),
        },
    ]
    products = [{"product_id": c, "name": c, "category": c} for c in sorted({a["product_id"] for a in accounts})]
    _write(lake.master_path(root, "accounts"), accounts, lake.MASTER_SCHEMAS["accounts"])
    _write(lake.master_path(root, "products"), products, lake.MASTER_SCHEMAS["products"])
    _write(
        lake.master_path(root, "customers"),
        [{"customer_id": "C1"}, {"customer_id": "C2"}],
        lake.MASTER_SCHEMAS["customers"],
    )
    months = {
        "2026-01": [("L1", date(2026, 1, 1), "50000"), ("X1", date(2026, 1, 10), "600")],
        "2026-05": [("F1", date(2026, 5, 20), "300")],
        "2026-06": [("D1", date(2026, 6, 1), "1000"), ("D1", date(2026, 6, 16), "4000.55")],
    }
    for month, rows in months.items():
        _write(
            lake.month_dir(root, "balances", month) / "data_0.parquet",
            [{"account_id": a, "date": d, "balance": Decimal(b)} for a, d, b in rows],
            lake.FACT_SCHEMAS["balances"],
        )
    return root


def _compute(engine: engines.Engine, lake_dir: Path) -> tuple[list[dict], list[dict]]:
    con = engines.connect(engine)
    try:
        inputs = engines.read_lake(con, lake_dir, AS_OF)
        per_account = engines.materialize(
            con, account_month_balances(inputs.accounts, inputs.products, inputs.balances, AS_OF), "account_months"
        )
        positions = con.to_pyarrow(account_positions(per_account, AS_OF).order_by("account_id")).to_pylist()
        wide = con.to_pyarrow(customer_month_aum_wide(per_account, AS_OF).order_by("customer_id")).to_pylist()
        return positions, wide
    finally:
        engines.disconnect(con)


def test_spark_matches_duckdb(spark: Any, lake_dir: Path) -> None:
    on_duckdb = _compute("duckdb", lake_dir)
    on_spark = _compute("spark", lake_dir)
    assert on_spark == on_duckdb
    positions, wide = on_duckdb
    assert [(p["account_id"], p["balance"], p["balance_avg_30d"]) for p in positions] == [
        ("D1", 4000.55, 2500.28),
        ("F1", 300.0, 300.0),
        ("L1", 50000.0, 50000.0),
        ("X1", 0.0, 380.0),
    ]
    assert (wide[0]["aum_11"], wide[0]["liability_11"], wide[1]["aum_avg_11"]) == (4300.55, 50000.0, 380.0)
