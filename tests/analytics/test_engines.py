"""The DuckDB engine end to end: a tiny lake written with the lake layout, read back for one as_of."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bankcrm import lake
from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.engines import (
    compute_features,
    connect,
    disconnect,
    fact_months_to_read,
    feature_expression,
    history_start,
    materialize,
    months_covering,
    read_lake,
    read_tier_history,
)
from bankcrm.analytics.features import FEATURE_COLUMNS
from bankcrm.reference import BUNDLE_TIMEZONE

# as_of − 89 = 2026-04-01
AS_OF = date(2026, 6, 29)
SHANGHAI = ZoneInfo(BUNDLE_TIMEZONE)


def _write_master(lake_dir: Path, table: str, rows: list[dict[str, Any]]) -> None:
    path = lake.master_path(lake_dir, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=lake.MASTER_SCHEMAS[table]), path)


def _write_facts(lake_dir: Path, table: str, rows: list[dict[str, Any]]) -> None:
    """Rows into their month folders by the table's partition date, as ingest writes them."""
    by_month: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        day: date = row[lake.FACT_PARTITION_DATE[table]]
        by_month.setdefault(f"{day:%Y-%m}", []).append(row)
    for month, month_rows in by_month.items():
        folder = lake.month_dir(lake_dir, table, month)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(month_rows, schema=lake.FACT_SCHEMAS[table]), folder / "part-0.parquet")


def _tx(tx_id: str, ts_utc: datetime, amount: str, channel: str = "mobile") -> dict[str, Any]:
    # the ingest contract: tx_date is the Asia/Shanghai calendar date of ts
    return {
        "tx_id": tx_id,
        "account_id": "A1",
        "ts": ts_utc,
        "tx_date": ts_utc.astimezone(SHANGHAI).date(),
        "amount": Decimal(amount),
        "channel": channel,
        "category": "purchase",
    }


@pytest.fixture
def tiny_lake(tmp_path: Path) -> Path:
    lake_dir = tmp_path / "lake"
    _write_master(
        lake_dir,
        "customers",
        [
            {"customer_id": "C1", "birth_date": date(1996, 6, 30), "onboard_date": date(2016, 6, 29)},
            {"customer_id": "C2", "birth_date": date(1980, 1, 1), "onboard_date": date(2026, 6, 29)},
        ],
    )
    _write_master(lake_dir, "products", [{"product_id": "P1", "name": "活期", "category": "deposit_current"}])
    _write_master(
        lake_dir,
        "accounts",
        [{"account_id": "A1", "customer_id": "C1", "product_id": "P1", "opened_on": date(2016, 6, 29)}],
    )
    _write_facts(
        lake_dir,
        "balances",
        [
            # the only row the run needs is 17 months old: carry-forward reads every month up to as_of
            {"account_id": "A1", "date": date(2025, 1, 15), "balance": Decimal("100000.00")},
            {"account_id": "A1", "date": date(2026, 7, 1), "balance": Decimal("1.00")},
        ],
    )
    _write_facts(
        lake_dir,
        "transactions",
        [
            # 00:30 on 1 April in Shanghai (still 31 March in UTC): the first day of the 90 days
            _tx("T1", datetime(2026, 3, 31, 16, 30, tzinfo=UTC), "-250.00"),
            # 23:59 on 31 March in Shanghai: the day before, out of the 90 days
            _tx("T2", datetime(2026, 3, 31, 15, 59, tzinfo=UTC), "-40.00"),
            # 00:10 on 30 June in Shanghai (29 June in UTC): after as_of, ignored
            _tx("T3", datetime(2026, 6, 29, 16, 10, tzinfo=UTC), "-99.00"),
        ],
    )
    _write_facts(
        lake_dir,
        "behavior_events",
        [
            {"customer_id": "C1", "ts": datetime(2026, m, 2, tzinfo=UTC), "event_date": date(2026, m, 2), "event": "x"}
            for m in (4, 5, 6, 7)
        ],
    )
    return lake_dir


def test_months_read_for_a_run(tiny_lake: Path) -> None:
    assert months_covering(date(2025, 12, 5), date(2026, 2, 1)) == ["2025-12", "2026-01", "2026-02"]
    # 2026-07 is after as_of's month
    assert fact_months_to_read(tiny_lake, "balances", AS_OF) == ["2025-01"]
    assert fact_months_to_read(tiny_lake, "transactions", AS_OF) == ["2026-03", "2026-04", "2026-06"]
    # events for [as_of − 29, as_of] = [05-31, 06-29]
    assert fact_months_to_read(tiny_lake, "behavior_events", AS_OF) == ["2026-05", "2026-06"]


def test_compute_features_on_a_tiny_lake(tiny_lake: Path) -> None:
    result = compute_features(tiny_lake, AS_OF, threads=1)
    assert tuple(result.column_names) == FEATURE_COLUMNS
    assert result.schema.field("aum_avg_30d").type == pa.float64()
    assert result.schema.field("net_contribution").type == pa.float64()
    assert result.schema.field("tx_count_90d").type == pa.int64()
    assert result.schema.field("last_tx_date").type == pa.date32()
    rows = {r["customer_id"]: r for r in result.to_pylist()}
    assert list(rows) == ["C1", "C2"]

    c1 = rows["C1"]
    assert c1["aum_avg_30d"] == c1["aum_avg_90d"] == c1["aum_avg_180d"] == 100_000.0
    assert c1["aum_growth_6m"] == 0.0
    # only T1 (by its Shanghai date) is inside [04-01, 06-29]
    assert c1["tx_count_90d"] == 1
    assert c1["tx_amount_90d"] == 250.0
    assert c1["mobile_share_90d"] == 1.0 and c1["counter_share_90d"] == 0.0
    assert c1["last_tx_date"] == date(2026, 4, 1)
    assert c1["recency_days"] == 89
    # March (T2) and April (T1)
    assert c1["active_months_6m"] == 2
    assert c1["product_count"] == 1
    # birthday tomorrow; onboarded exactly 10 years ago (3,652 days / 365.25 = 9.9986)
    assert c1["age"] == 29
    assert c1["tenure_years"] == 10.0
    # 100,000 × 1.5%; one mobile tx × 0.5 × 365/90 + one open account × 20
    assert c1["revenue_annual"] == pytest.approx(1_500)
    assert c1["cost_annual"] == pytest.approx(0.5 * 365 / 90 + 20)

    c2 = rows["C2"]
    assert c2["aum_avg_30d"] == 0.0 and c2["tx_count_90d"] == 0 and c2["last_tx_date"] is None
    assert c2["tenure_years"] == 0.0 and c2["net_contribution"] == 0.0


def test_an_empty_lake_gives_an_empty_table(tmp_path: Path) -> None:
    result = compute_features(tmp_path / "lake", AS_OF, threads=1)
    assert result.num_rows == 0
    assert tuple(result.column_names) == FEATURE_COLUMNS


def test_an_unknown_engine_is_refused(tiny_lake: Path) -> None:
    # the Spark engine has its own module, test_spark_parity.py
    with pytest.raises(ValueError, match="unknown engine"):
        compute_features(tiny_lake, AS_OF, backend="polars")  # type: ignore[arg-type]


def test_tier_history_materialize_and_history_start(tiny_lake: Path, tmp_path: Path) -> None:
    con = connect(threads=1)
    try:
        assert con.to_pyarrow(read_tier_history(con, [])).num_rows == 0
        history_file = tmp_path / "run=00000001.parquet"
        pq.write_table(
            pa.table(
                {
                    "customer_id": ["C1"],
                    "as_of": pa.array([date(2026, 5, 31)], pa.date32()),
                    "tier_raw": ["vip"],
                    "tier": ["vip"],
                }
            ),
            history_file,
        )
        history = read_tier_history(con, [history_file])
        assert history.columns == ("customer_id", "as_of", "tier_raw", "tier")
        assert con.to_pyarrow(history).to_pylist()[0]["tier"] == "vip"

        inputs = read_lake(con, tiny_lake, AS_OF)
        # the 17-month-old balance row is the first day of history
        assert history_start(con, inputs) == date(2025, 1, 15)
        features = materialize(con, feature_expression(inputs, AS_OF, NightlyConfig()), "features")
        assert con.to_pyarrow(features.count()).as_py() == 2
    finally:
        disconnect(con)
