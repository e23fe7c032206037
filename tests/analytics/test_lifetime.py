"""Historical contribution and RFM summaries on hand-made tables, answers worked out here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from bankcrm import lake
from bankcrm.analytics.lifetime import historical_contribution, rfm_summary

AS_OF = date(2026, 3, 31)
START = date(2026, 3, 22)  # ten days of history: 22..31 March


def _t(name: str, rows: list[dict[str, object]]) -> ibis.Table:
    schema = (lake.MASTER_SCHEMAS | lake.FACT_SCHEMAS)[name]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


def _tx(tx_id: str, day: date, amount: str, channel: str, category: str, account: str = "A1") -> dict[str, object]:
    return {
        "tx_id": tx_id,
        "account_id": account,
        "ts": datetime(day.year, day.month, day.day, 2, tzinfo=UTC),
        "tx_date": day,
        "amount": Decimal(amount),
        "channel": channel,
        "category": category,
    }


@pytest.fixture
def bank() -> dict[str, ibis.Table]:
    customers = _t(
        "customers",
        [
            {"customer_id": "C1", "birth_date": date(1980, 1, 1), "onboard_date": date(2020, 1, 1)},
            {"customer_id": "C2", "birth_date": date(1990, 1, 1), "onboard_date": date(2021, 1, 1)},
        ],
    )
    products = _t(
        "products",
        [{"product_id": "P1", "category": "deposit_current"}, {"product_id": "P2", "category": "debit_card"}],
    )
    accounts = _t(
        "accounts",
        [
            {"account_id": "A1", "customer_id": "C1", "product_id": "P1", "opened_on": date(2026, 3, 1)},
            # a card closed on 27 March: open 22..26 March inside the window = 5 days
            {
                "account_id": "A2",
                "customer_id": "C1",
                "product_id": "P2",
                "opened_on": date(2025, 1, 1),
                "closed_on": date(2026, 3, 27),
            },
        ],
    )
    balances = _t(
        "balances",
        [
            {"account_id": "A1", "date": date(2026, 3, 1), "balance": Decimal("36500.00")},
            {"account_id": "A1", "date": date(2026, 4, 1), "balance": Decimal("99999999.00")},  # after as_of
        ],
    )
    transactions = _t(
        "transactions",
        [
            _tx("t1", date(2026, 3, 21), "-500.00", "counter", "transfer_out"),  # before the history window
            _tx("t2", date(2026, 3, 25), "-2.00", "auto", "fee"),
            _tx("t3", date(2026, 3, 26), "-300.00", "counter", "transfer_out"),
            _tx("t4", date(2026, 3, 26), "-40.00", "mobile", "purchase"),
            _tx("t5", date(2026, 3, 30), "-60.00", "pos", "purchase"),
            _tx("t6", date(2026, 3, 30), "1.00", "auto", "interest"),
            _tx("t7", date(2026, 4, 1), "-70.00", "mobile", "purchase"),  # after as_of
        ],
    )
    return {
        "customers": customers,
        "accounts": accounts,
        "products": products,
        "balances": balances,
        "transactions": transactions,
    }


def test_historical_contribution_by_hand(bank: dict[str, ibis.Table]) -> None:
    out = historical_contribution(
        bank["customers"],
        bank["accounts"],
        bank["products"],
        bank["balances"],
        bank["transactions"],
        AS_OF,
        START,
    ).to_pyarrow()
    got = dict(zip(out.column("customer_id").to_pylist(), out.column("clv_historical").to_pylist(), strict=True))
    revenue = 36_500 * 10 * 0.015 / 365 + 2.0  # deposit margin over 10 days, plus the fee
    cost = 1 * 8 + 2 * 0.5 + 20 * (10 + 5) / 365  # one counter, two other, 15 account-days open
    assert got["C1"] == pytest.approx(revenue - cost, rel=1e-12)
    assert got["C2"] == 0.0


def test_rfm_summary_by_hand(bank: dict[str, ibis.Table]) -> None:
    out = rfm_summary(bank["customers"], bank["accounts"], bank["transactions"], AS_OF, START).to_pyarrow().to_pylist()
    rows = {r["customer_id"]: r for r in out}
    # initiated days up to as_of: 21 Mar (500), 26 Mar (300 + 40), 30 Mar (60); fee and interest are not
    assert rows["C1"]["frequency"] == 2
    assert rows["C1"]["recency"] == 9  # 21 → 30 March
    assert rows["C1"]["T"] == 10  # 21 → 31 March
    assert rows["C1"]["monetary_value"] == pytest.approx((340 + 60) / 2)
    assert rows["C1"]["active"] is True
    # no activity: no purchase yet, the clock runs from the later of onboarding and the history start
    assert (rows["C2"]["frequency"], rows["C2"]["recency"], rows["C2"]["T"]) == (0, 0, 9)
    assert rows["C2"]["monetary_value"] is None and rows["C2"]["active"] is False
