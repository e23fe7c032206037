"""One customer's transactions from the lake: newest first, paged across months, filtered, masked."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bank360 import ACTOR, RM1, RM2, Bank

from bankcrm import lake
from bankcrm.audit.service import search
from bankcrm.db.engine import session_scope
from bankcrm.holdings import service
from bankcrm.holdings.service import QueryError, TransactionQuery
from bankcrm.security.permissions import NotFound


def _tx(n: int, account: str, day: date, hour: int, amount: str, category: str = "purchase") -> dict:
    return {
        "tx_id": f"T{n:03d}",
        "account_id": account,
        "ts": datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC),
        "tx_date": day,
        "amount": Decimal(amount),
        "channel": "mobile",
        "category": category,
        "merchant_group": "travel",
        "counterparty": "cp_0123456789abcdef0123",
    }


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    months = {
        "2026-05": [
            _tx(1, "A1", date(2026, 5, 3), 2, "-10.00"),
            _tx(2, "A2", date(2026, 5, 20), 3, "500.00", "investment"),
        ],
        "2026-06": [
            _tx(3, "A1", date(2026, 6, 1), 1, "-20.00"),
            _tx(4, "A4", date(2026, 6, 2), 1, "-99.00"),  # another customer's account
            _tx(5, "A1", date(2026, 6, 28), 23, "8000.00", "payroll"),
            _tx(6, "A3", date(2026, 6, 15), 4, "-3000.00", "repayment"),
        ],
    }
    for month, rows in months.items():
        folder = lake.month_dir(root, "transactions", month)
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=lake.FACT_SCHEMAS["transactions"]), folder / "data_0.parquet")
    return root


def page(bank: Bank, lake_dir: Path, principal=RM1, **query) -> service.TransactionPage:
    with session_scope(bank.factory) as s:
        return service.transactions_page(s, principal, "C1", TransactionQuery(**query), lake_dir=lake_dir, actor=ACTOR)


def test_newest_first_across_months_in_pages(bank: Bank, lake_dir: Path) -> None:
    first = page(bank, lake_dir, page_size=3)
    assert [r.tx_id for r in first.rows] == ["T005", "T006", "T003"]
    assert first.has_next and first.months == ["2026-06", "2026-05"]
    second = page(bank, lake_dir, page=2, page_size=3)
    assert [r.tx_id for r in second.rows] == ["T002", "T001"]
    assert not second.has_next
    payroll = first.rows[0]
    # 23:00 UTC on 28 June is 07:00 on 29 June in Shanghai
    assert (payroll.ts.isoformat(), payroll.amount, payroll.counterparty) == (
        "2026-06-29T07:00:00+08:00",
        Decimal("8000.00"),
        "cp_0123****",
    )


def test_filters_by_month_and_category(bank: Bank, lake_dir: Path) -> None:
    assert [r.tx_id for r in page(bank, lake_dir, month="2026-05").rows] == ["T002", "T001"]
    assert [r.tx_id for r in page(bank, lake_dir, category="purchase").rows] == ["T003", "T001"]
    assert page(bank, lake_dir, month="2025-01").rows == []
    with pytest.raises(QueryError):
        page(bank, lake_dir, month="2026-13")
    with pytest.raises(QueryError):
        page(bank, lake_dir, category="bribe")


def test_scope_and_audit(bank: Bank, lake_dir: Path) -> None:
    with pytest.raises(NotFound):
        page(bank, lake_dir, principal=RM2)
    page(bank, lake_dir, month="2026-06", page=1)
    with session_scope(bank.factory) as s:
        (event,) = search(s, action="customer.view")
    assert '"section":"transactions"' in event.details_json and '"month":"2026-06"' in event.details_json


def test_an_empty_lake_gives_an_empty_page(bank: Bank, tmp_path: Path) -> None:
    result = page(bank, tmp_path / "nothing")
    assert (result.rows, result.has_next, result.months) == ([], False, [])
