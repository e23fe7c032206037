"""Account positions and the 12 month-end AUM trend, on hand-made tables worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from nightly_tables import _CON, AS_OF, account, balance, lake_table, products_for

from bankcrm.analytics.holdings import (
    account_month_balances,
    account_positions,
    customer_month_aum_wide,
    month_aum_long,
    month_ends,
)

ACCOUNTS = [
    account("D1", "C1", "deposit_current"),
    account("F1", "C1", "fund"),
    account("L1", "C1", "loan_mortgage"),
    account("X1", "C1", "deposit_time", closed_on=date(2026, 5, 1)),
    account("S1", "C1", "debit_card"),
    account("N1", "C1", "deposit_time", opened_on=date(2026, 7, 5)),
    account("E1", "C2", "wealth"),
    account("R1", "C3", "fund", closed_on=date(2026, 6, 20)),
]
BALANCES = [
    balance("D1", date(2026, 6, 1), 1000),
    balance("D1", date(2026, 6, 16), 4000),
    balance("F1", date(2026, 5, 20), 300),
    balance("L1", date(2026, 1, 1), 50000),
    balance("X1", date(2026, 1, 1), 200),
    balance("R1", date(2026, 1, 1), 600),
    balance("D1", date(2026, 7, 2), 99999),  # after as_of: ignored
]


def account_months(as_of: date = AS_OF):
    return account_month_balances(
        lake_table("accounts", ACCOUNTS),
        lake_table("products", products_for(ACCOUNTS)),
        lake_table("balances", BALANCES),
        as_of,
    )


def test_month_ends_are_the_last_days_before_as_of_and_as_of_itself() -> None:
    ends = month_ends(date(2026, 3, 15))
    assert len(ends) == 12
    assert ends[0] == date(2025, 4, 30)
    assert ends[-3:] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 15)]
    assert month_ends(date(2024, 3, 31), 2) == [date(2024, 2, 29), date(2024, 3, 31)]


def test_positions_hold_open_asset_and_liability_accounts_at_as_of() -> None:
    positions = _CON.to_pyarrow(account_positions(account_months(), AS_OF))
    rows = {r["account_id"]: r for r in positions.to_pylist()}
    # S1 is a service account, X1 closed with nothing left, N1 opened after as_of
    assert set(rows) == {"D1", "F1", "L1", "E1", "R1"}
    # D1: 1000 for 15 days, then 4000 for 15 days
    assert (rows["D1"]["balance"], rows["D1"]["balance_avg_30d"]) == (4000.0, 2500.0)
    # F1: 300 from 20 May, so all 30 June days
    assert (rows["F1"]["balance"], rows["F1"]["balance_avg_30d"]) == (300.0, 300.0)
    assert (rows["L1"]["category"], rows["L1"]["balance"]) == ("loan_mortgage", 50000.0)
    # an open account without balance rows holds 0
    assert (rows["E1"]["customer_id"], rows["E1"]["balance"]) == ("C2", 0.0)
    # closed on 20 June: nothing left, but 600 for 19 of the last 30 days counts toward aum_avg_30d
    assert (rows["R1"]["balance"], rows["R1"]["balance_avg_30d"]) == (0.0, 380.0)


def test_month_aum_trend_worked_by_hand() -> None:
    wide = _CON.to_pyarrow(customer_month_aum_wide(account_months(), AS_OF))
    long = month_aum_long(wide, AS_OF)
    got = {
        (r["customer_id"], r["month_end"]): (r["aum"], r["aum_avg"], r["liability"])
        for r in long.to_pylist()
        if r["customer_id"] != "C3"
    }
    assert got == {
        # X1's 200 from 1 January until it closed on 1 May; the loan from 1 January
        ("C1", date(2026, 1, 31)): (200.0, 200.0, 50000.0),
        ("C1", date(2026, 2, 28)): (200.0, 200.0, 50000.0),
        ("C1", date(2026, 3, 31)): (200.0, 200.0, 50000.0),
        ("C1", date(2026, 4, 30)): (200.0, 200.0, 50000.0),
        # May: X1 closed; F1's 300 for 12 of 31 days
        ("C1", date(2026, 5, 31)): (300.0, pytest.approx(116.13), 50000.0),
        # June: D1 (1000 × 15 + 4000 × 15) and F1 300 × 30, over 30 days
        ("C1", date(2026, 6, 30)): (4300.0, 2800.0, 50000.0),
    }
    # C2 holds nothing in any month: no rows at all
    assert not [k for k in got if k[0] == "C2"]


def test_trend_of_a_partial_current_month_averages_the_days_so_far() -> None:
    as_of = date(2026, 6, 10)
    long = month_aum_long(_CON.to_pyarrow(customer_month_aum_wide(account_months(as_of), as_of)), as_of)
    last = [r for r in long.to_pylist() if r["month_end"] == as_of and r["customer_id"] == "C1"]
    # D1 1000 for 10 days and F1 300 for 10 days
    assert [(r["aum"], r["aum_avg"]) for r in last] == [(1300.0, 1300.0)]
