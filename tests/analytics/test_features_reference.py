"""Cross-check: the vectorised features against SPEC 4.1/4.2/4.4 read literally, one calendar day at a time.

The reference below loops over days and rows in plain Python, the way the SPEC text is
written (bal(a, d) is the latest row with date ≤ d, 0 from closed_on onwards, …), on small
random books that hit window edges often.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from nightly_tables import AS_OF, account, balance, customer, features_of, transaction

from bankcrm.analytics.config import DEFAULT_MARGIN_RATES
from bankcrm.reference import ASSET_CATEGORIES, LIABILITY_CATEGORIES, PRODUCT_CATEGORIES, TX_CATEGORIES, TX_CHANNELS

HISTORY_START = date(2025, 1, 1)
HISTORY_DAYS = (AS_OF - HISTORY_START).days + 20  # a few rows after as_of too


def _day(rng: random.Random) -> date:
    # half the dates near a window edge, the rest anywhere
    if rng.random() < 0.5:
        edge = rng.choice([0, 29, 30, 89, 90, 179, 180, 181, 182, 211, 212, 271, 272])
        return AS_OF - timedelta(days=edge + rng.choice([-1, 0, 0, 1]))
    return HISTORY_START + timedelta(days=rng.randrange(HISTORY_DAYS))


def _book(seed: int) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    rng = random.Random(seed)
    customers = [
        customer(
            f"C{i}",
            birth_date=date(rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28)),
            onboard_date=_day(rng) - timedelta(days=rng.randrange(3000)),
        )
        for i in range(8)
    ]
    accounts = []
    for i in range(20):
        closed = _day(rng) if rng.random() < 0.3 else None
        accounts.append(
            account(f"A{i}", f"C{rng.randrange(7)}", rng.choice(PRODUCT_CATEGORIES), _day(rng) - timedelta(400), closed)
        )
    balances: dict[tuple[str, date], dict] = {}
    for _ in range(160):
        a = rng.choice(accounts)["account_id"]
        d = _day(rng)
        balances[(a, d)] = balance(a, d, f"{rng.randrange(0, 3_000_000)}.{rng.randrange(100):02d}")
    transactions = [
        transaction(
            f"T{i}",
            rng.choice(accounts)["account_id"],
            _day(rng),
            f"{rng.choice([-1, 1]) * rng.randrange(1, 30_000)}.{rng.randrange(100):02d}",
            rng.choice(TX_CHANNELS),
            rng.choice(TX_CATEGORIES),
        )
        for i in range(300)
    ]
    return customers, accounts, list(balances.values()), transactions


def _reference(
    customers: list[dict], accounts: list[dict], balances: list[dict], transactions: list[dict]
) -> dict[str, dict[str, Any]]:
    """SPEC section 4 read literally."""
    rows_of: dict[str, list[tuple[date, Decimal]]] = {}
    for b in balances:
        if b["date"] <= AS_OF:
            rows_of.setdefault(b["account_id"], []).append((b["date"], b["balance"]))
    category = {a["account_id"]: a["product_id"] for a in accounts}

    def bal(a: dict, d: date) -> float:
        if a["closed_on"] is not None and a["closed_on"] <= d:
            return 0.0
        past = [(day, value) for day, value in rows_of.get(a["account_id"], []) if day <= d]
        return float(max(past)[1]) if past else 0.0

    def mean_bal(a: dict, days: int, lag: int = 0) -> float:
        end = AS_OF - timedelta(days=lag)
        return sum(bal(a, end - timedelta(days=k)) for k in range(days)) / days

    def in_window(d: date, first: int, last: int) -> bool:
        return AS_OF - timedelta(days=first) <= d <= AS_OF - timedelta(days=last)

    def is_open(a: dict) -> bool:
        return a["opened_on"] <= AS_OF and (a["closed_on"] is None or a["closed_on"] > AS_OF)

    expected: dict[str, dict[str, Any]] = {}
    for c in customers:
        cid = c["customer_id"]
        mine = [a for a in accounts if a["customer_id"] == cid]
        assets = [a for a in mine if category[a["account_id"]] in ASSET_CATEGORIES]
        owned = {a["account_id"] for a in mine}
        txs = [t for t in transactions if t["account_id"] in owned and t["tx_date"] <= AS_OF]
        initiated = [t for t in txs if t["category"] not in ("interest", "fee") and t["channel"] != "auto"]
        recent = [t for t in initiated if in_window(t["tx_date"], 89, 0)]
        base_volume = sum(abs(t["amount"]) for t in initiated if in_window(t["tx_date"], 271, 182))
        volume = sum(abs(t["amount"]) for t in recent)
        aum30 = sum(mean_bal(a, 30) for a in assets)
        aum30_base = sum(mean_bal(a, 30, lag=182) for a in assets)
        last = max((t["tx_date"] for t in initiated), default=None)
        counter = sum(t["channel"] == "counter" for t in recent)
        fees = sum(abs(t["amount"]) for t in txs if t["category"] == "fee" and in_window(t["tx_date"], 89, 0))
        revenue = (
            sum(mean_bal(a, 90) * DEFAULT_MARGIN_RATES[category[a["account_id"]]] for a in mine)
            + float(fees) * 365 / 90
        )
        cost = (counter * 8 + (len(recent) - counter) * 0.5) * 365 / 90 + 20 * sum(is_open(a) for a in mine)
        birth = c["birth_date"]
        expected[cid] = {
            "aum_avg_30d": aum30,
            "aum_avg_90d": sum(mean_bal(a, 90) for a in assets),
            "aum_avg_180d": sum(mean_bal(a, 180) for a in assets),
            "aum_growth_6m": (aum30 - aum30_base) / aum30_base if aum30_base >= 10_000 else None,
            "liability_balance": sum(bal(a, AS_OF) for a in mine if category[a["account_id"]] in LIABILITY_CATEGORIES),
            "tx_count_90d": len(recent),
            "tx_amount_90d": float(volume),
            "tx_volume_growth_6m": float((volume - base_volume) / base_volume) if base_volume >= 10_000 else None,
            "mobile_share_90d": sum(t["channel"] in ("mobile", "online") for t in recent) / len(recent)
            if recent
            else None,
            "counter_share_90d": counter / len(recent) if recent else None,
            "last_tx_date": last,
            "recency_days": (AS_OF - last).days if last else None,
            "active_months_6m": len(
                {t["tx_date"].replace(day=1) for t in initiated if in_window(t["tx_date"], 181, 0)}
            ),
            "payroll_months_3m": len(
                {
                    t["tx_date"].replace(day=1)
                    for t in txs
                    if t["category"] == "payroll" and t["amount"] > 0 and in_window(t["tx_date"], 89, 0)
                }
            ),
            "product_count": len({category[a["account_id"]] for a in mine if is_open(a)}),
            "age": AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day)),
            "tenure_years": round((AS_OF - c["onboard_date"]).days / 365.25, 1),
            "revenue_annual": revenue,
            "cost_annual": cost,
            "net_contribution": revenue - cost,
        }
    return expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_features_equal_the_day_by_day_reading_of_the_spec(seed: int) -> None:
    book = _book(seed)
    got = features_of(*book)
    expected = _reference(*book)
    assert set(got) == set(expected)
    for cid, row in expected.items():
        for column, value in row.items():
            actual = got[cid][column]
            if isinstance(value, float):
                assert actual == pytest.approx(value, rel=1e-9, abs=1e-6), (cid, column)
            else:
                assert actual == value, (cid, column)
