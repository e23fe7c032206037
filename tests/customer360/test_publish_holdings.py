"""Publishing positions and the month-end trend from a lake into the database under a run id."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, func, select

from bankcrm import lake
from bankcrm.analytics import engines
from bankcrm.analytics.publish_holdings import publish_holdings
from bankcrm.config import Settings
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.holdings.models import AccountPosition, CustomerMonthAum
from bankcrm.scores import repository as scores_repo

AS_OF = date(2026, 6, 30)


def _write(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _lake(lake_dir: Path) -> None:
    accounts = [
        {"account_id": "A1", "customer_id": "C1", "product_id": "P_DEP", "opened_on": date(2020, 1, 1)},
        {"account_id": "A2", "customer_id": "C1", "product_id": "P_LOAN", "opened_on": date(2020, 1, 1)},
    ]
    products = [
        {"product_id": "P_DEP", "name": "活期", "category": "deposit_current"},
        {"product_id": "P_LOAN", "name": "房贷", "category": "loan_mortgage"},
    ]
    _write(lake.master_path(lake_dir, "accounts"), accounts, lake.MASTER_SCHEMAS["accounts"])
    _write(lake.master_path(lake_dir, "products"), products, lake.MASTER_SCHEMAS["products"])
    _write(lake.master_path(lake_dir, "customers"), [{"customer_id": "C1"}], lake.MASTER_SCHEMAS["customers"])
    balances = {
        "2026-05": [{"account_id": "A1", "date": date(2026, 5, 1), "balance": Decimal("1000.00")}],
        "2026-06": [
            {"account_id": "A1", "date": date(2026, 6, 16), "balance": Decimal("4000.00")},
            {"account_id": "A2", "date": date(2026, 6, 1), "balance": Decimal("50000.00")},
        ],
    }
    for month, rows in balances.items():
        _write(lake.month_dir(lake_dir, "balances", month) / "data_0.parquet", rows, lake.FACT_SCHEMAS["balances"])


def _new_run(engine: Engine, *, publish: bool) -> int:
    with session_scope(session_factory(engine)) as s:
        run = scores_repo.create_run(s, as_of=AS_OF, engine="duckdb", config_json="{}")
        s.flush()
        if publish:
            scores_repo.publish_run(s, run.id, timings_json="{}", summary_json="{}")
        return run.id


def _publish(engine: Engine, lake_dir: Path, run_id: int) -> dict[str, float]:
    con = engines.connect("duckdb", threads=1)
    try:
        return publish_holdings(con, engines.read_lake(con, lake_dir, AS_OF), engine, run_id, AS_OF)
    finally:
        engines.disconnect(con)


def _rows_per_run(engine: Engine) -> dict[int, int]:
    with session_scope(session_factory(engine)) as s:
        stmt = select(CustomerMonthAum.run_id, func.count()).group_by(CustomerMonthAum.run_id)
        return {r: n for r, n in s.execute(stmt).all()}


def test_publish_inserts_under_the_new_run_and_keeps_only_the_current_one_besides(
    any_settings: Settings, any_engine: Engine
) -> None:
    lake_dir = any_settings.lake_dir
    _lake(lake_dir)
    current = _new_run(any_engine, publish=True)
    counts = _publish(any_engine, lake_dir, current)
    assert (counts["positions"], counts["month_aum_rows"]) == (2, 2)
    with session_scope(session_factory(any_engine)) as s:
        a1 = s.get(AccountPosition, (current, "A1"))
        assert a1 is not None
        # 1000 for 15 days, 4000 for 15 days
        assert (a1.balance, a1.balance_avg_30d, a1.category) == (
            Decimal("4000.00"),
            Decimal("2500.00"),
            "deposit_current",
        )
        june = s.get(CustomerMonthAum, (current, "C1", AS_OF))
        assert june is not None and (june.aum, june.aum_avg, june.liability) == (
            Decimal("4000.00"),
            Decimal("2500.00"),
            Decimal("50000.00"),
        )
        may = s.get(CustomerMonthAum, (current, "C1", date(2026, 5, 31)))
        assert may is not None and (may.aum, may.liability) == (Decimal("1000.00"), Decimal("0.00"))
    # a run that never publishes leaves rows behind; the next run removes them and keeps the current run's
    abandoned = _new_run(any_engine, publish=False)
    _publish(any_engine, lake_dir, abandoned)
    assert _rows_per_run(any_engine) == {current: 2, abandoned: 2}
    following = _new_run(any_engine, publish=False)
    _publish(any_engine, lake_dir, following)
    assert _rows_per_run(any_engine) == {current: 2, following: 2}
