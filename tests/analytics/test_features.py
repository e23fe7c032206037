"""Features (SPEC 4.1, 4.2, 4.4 inputs) on hand-made tables; every expected number is worked out in the comments.

as_of is 2026-06-30 (day 181 of 2026), so: as_of − 29 = 06-01, as_of − 89 = 04-02,
as_of − 90 = 04-01, as_of − 179 = 01-02, as_of − 181 = 2025-12-31, as_of − 182 = 2025-12-30,
as_of − 211 = 2025-12-01, as_of − 271 = 2025-10-02, as_of − 272 = 2025-10-01.
"""

from __future__ import annotations

from datetime import date

import pytest
from nightly_tables import (
    AS_OF,
    account,
    balance,
    collect,
    customer,
    days_before,
    features_of,
    lake_table,
    transaction,
)

from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.features import FEATURE_COLUMNS, customer_features, customer_profile_features


def test_window_dates_in_the_docstring() -> None:
    assert days_before(29) == date(2026, 6, 1)
    assert days_before(89) == date(2026, 4, 2)
    assert days_before(179) == date(2026, 1, 2)
    assert days_before(181) == date(2025, 12, 31)
    assert days_before(182) == date(2025, 12, 30)
    assert days_before(211) == date(2025, 12, 1)
    assert days_before(271) == date(2025, 10, 2)


def test_columns_and_one_row_per_customer() -> None:
    rows = features_of([customer("C1"), customer("C2")])
    assert set(rows) == {"C1", "C2"}
    assert tuple(rows["C1"]) == FEATURE_COLUMNS


def test_step_function_aum_across_window_edges_and_a_liability() -> None:
    accounts = [account("A1", "C1", "deposit_current"), account("L1", "C1", "loan_consumer")]
    balances = [
        balance("A1", date(2026, 1, 1), 1_000),  # before every window: carried forward
        balance("A1", days_before(29), 4_000),  # exactly the first day of the 30-day window
        balance("A1", date(2026, 7, 1), 999_999),  # after as_of: ignored
        balance("L1", date(2026, 3, 15), 50_000),  # a loan: liability, never AUM
    ]
    c1 = features_of([customer("C1")], accounts, balances)["C1"]
    # 30 days at 4,000
    assert c1["aum_avg_30d"] == pytest.approx(4_000)
    # [04-02, 06-30]: 60 days at 1,000 then 30 at 4,000 → (60,000 + 120,000) / 90
    assert c1["aum_avg_90d"] == pytest.approx(2_000)
    # [01-02, 06-30]: 150 days at 1,000 then 30 at 4,000 → (150,000 + 120,000) / 180
    assert c1["aum_avg_180d"] == pytest.approx(1_500)
    assert c1["liability_balance"] == pytest.approx(50_000)
    # base window [2025-12-01, 12-30] has no balance yet → 0 < 10,000
    assert c1["aum_growth_6m"] is None
    # revenue: 2,000 × 1.5% + 50,000 (all 90 days) × 3.0% = 30 + 1,500; cost: 2 open accounts × 20
    assert c1["revenue_annual"] == pytest.approx(1_530)
    assert c1["cost_annual"] == pytest.approx(40)
    assert c1["net_contribution"] == pytest.approx(1_490)


def test_change_one_day_inside_the_window() -> None:
    accounts = [account("A1", "C1", "deposit_current")]
    balances = [balance("A1", date(2026, 1, 1), 1_000), balance("A1", days_before(28), 4_000)]
    c1 = features_of([customer("C1")], accounts, balances)["C1"]
    # 1 day at 1,000 and 29 at 4,000
    assert c1["aum_avg_30d"] == pytest.approx((1_000 + 29 * 4_000) / 30)


def test_closed_account_no_accounts_and_missing_history() -> None:
    customers = [customer("C2"), customer("C3"), customer("C4")]
    accounts = [
        account("A2", "C2", "deposit_time", closed_on=date(2026, 6, 11)),
        account("A4", "C4", "deposit_current"),  # no balance rows at all
    ]
    balances = [
        balance("A2", date(2026, 1, 1), 30_000),
        balance("A2", date(2026, 6, 20), 5_000),  # after closed_on: the balance is 0 from closed_on on
    ]
    rows = features_of(customers, accounts, balances)
    c2 = rows["C2"]
    # held 06-01..06-10 = 10 days of 30 → 300,000 / 30
    assert c2["aum_avg_30d"] == pytest.approx(10_000)
    # 04-02..06-10 = 29 + 31 + 10 = 70 days → 2,100,000 / 90
    assert c2["aum_avg_90d"] == pytest.approx(2_100_000 / 90)
    # 01-02..06-10 = 30 + 28 + 31 + 30 + 31 + 10 = 160 days → 4,800,000 / 180
    assert c2["aum_avg_180d"] == pytest.approx(4_800_000 / 180)
    assert c2["product_count"] == 0
    # revenue only: 70-day holding averaged over 90 days × 0.8%; no open account, no cost
    assert c2["revenue_annual"] == pytest.approx(2_100_000 / 90 * 0.008)
    assert c2["cost_annual"] == 0
    for cid in ("C3", "C4"):
        row = rows[cid]
        assert row["aum_avg_30d"] == row["aum_avg_90d"] == row["aum_avg_180d"] == 0
        assert row["liability_balance"] == 0
        assert row["aum_growth_6m"] is None
    assert rows["C3"]["product_count"] == 0 and rows["C3"]["net_contribution"] == 0
    # the account without history is still open: 1 product, 20 of cost
    assert rows["C4"]["product_count"] == 1
    assert rows["C4"]["net_contribution"] == pytest.approx(-20)


def test_aum_growth_small_base_is_null_and_exact_base_counts() -> None:
    customers = [customer("C5"), customer("C6")]
    accounts = [account("A5", "C5", "deposit_current"), account("A6", "C6", "deposit_current")]
    balances = [
        balance("A5", date(2025, 11, 1), "9999.99"),
        balance("A5", days_before(29), 20_000),
        # base window 12-01..12-30: 15 days at 10,000.01 and 15 at 9,999.99 → exactly 10,000
        balance("A6", date(2025, 12, 1), "10000.01"),
        balance("A6", date(2025, 12, 16), "9999.99"),
        balance("A6", days_before(181), 12_000),  # the day after the base window
    ]
    rows = features_of(customers, accounts, balances)
    assert rows["C5"]["aum_avg_30d"] == pytest.approx(20_000)
    assert rows["C5"]["aum_growth_6m"] is None
    # (12,000 − 10,000) / 10,000
    assert rows["C6"]["aum_growth_6m"] == pytest.approx(0.2)


ACTIVITY = [
    transaction("T1", "A7", days_before(89), -100, "counter", "purchase"),  # first day of the 90 days
    transaction("T2", "A7", days_before(90), -1_000, "mobile", "purchase"),  # the day before: only "active month"
    transaction("T3", "A7", AS_OF, -300, "mobile", "transfer_out"),
    transaction("T4", "A7", date(2026, 7, 1), -5_000, "mobile", "purchase"),  # after as_of: ignored
    transaction("T5", "A7", date(2026, 5, 10), 600, "online", "transfer_in"),
    transaction("T6", "A7", date(2026, 5, 15), 8_000, "auto", "payroll"),  # bank-booked, still a payroll month
    transaction("T7", "A7", date(2026, 6, 5), -10, "counter", "fee"),  # a fee: revenue, not activity
    transaction("T8", "A7", date(2026, 6, 6), 3, "auto", "interest"),
    transaction("T9", "A7", date(2026, 6, 10), -200, "atm", "cash"),
    transaction("T10", "A7", days_before(181), -50, "pos", "purchase"),  # first day of the 6 months, after the base
    transaction("T11", "A7", days_before(182), -6_000, "pos", "purchase"),  # last day of the growth base
    transaction("T12", "A7", days_before(271), -4_000, "pos", "purchase"),  # first day of the growth base
    transaction("T13", "A7", days_before(272), -99_999, "pos", "purchase"),  # before the base
    transaction("T14", "A7", date(2026, 4, 20), 5_000, "counter", "payroll"),
    transaction("T15", "A7", date(2026, 6, 12), -70, "counter", "payroll"),  # negative payroll: not a payroll month
]


def test_activity_windows_shares_and_months() -> None:
    rows = features_of(
        [customer("C7"), customer("C8")], [account("A7", "C7", "deposit_current")], transactions=ACTIVITY
    )
    c7 = rows["C7"]
    # customer-initiated in [04-02, 06-30]: T1 100 counter, T3 300 mobile, T5 600 online, T9 200 atm,
    # T14 5,000 counter, T15 70 counter
    assert c7["tx_count_90d"] == 6
    assert c7["tx_amount_90d"] == pytest.approx(6_270)
    assert c7["mobile_share_90d"] == pytest.approx(2 / 6)
    assert c7["counter_share_90d"] == pytest.approx(3 / 6)
    # base = T11 + T12 = 10,000 exactly (T10 and T13 outside) → (6,270 − 10,000) / 10,000
    assert c7["tx_volume_growth_6m"] == pytest.approx(-0.373)
    assert c7["last_tx_date"] == AS_OF
    assert c7["recency_days"] == 0
    # [2025-12-31, 06-30]: Dec (T10), Apr (T1, T2, T14), May (T5), Jun (T3, T9, T15)
    assert c7["active_months_6m"] == 4
    # positive payroll in the 90 days: May (T6, auto) and Apr (T14)
    assert c7["payroll_months_3m"] == 2
    # fee 10 × 365/90; cost (3 counter × 8 + 3 other × 0.5) × 365/90 + 1 open account × 20
    assert c7["revenue_annual"] == pytest.approx(10 * 365 / 90)
    assert c7["cost_annual"] == pytest.approx(25.5 * 365 / 90 + 20)
    assert c7["net_contribution"] == pytest.approx((10 - 25.5) * 365 / 90 - 20)

    c8 = rows["C8"]
    assert c8["tx_count_90d"] == 0 and c8["tx_amount_90d"] == 0
    assert c8["mobile_share_90d"] is None and c8["counter_share_90d"] is None
    assert c8["last_tx_date"] is None and c8["recency_days"] is None
    assert c8["tx_volume_growth_6m"] is None
    assert c8["active_months_6m"] == 0 and c8["payroll_months_3m"] == 0


def test_last_tx_date_looks_past_the_windows_and_skips_bank_bookings() -> None:
    transactions = [
        transaction("T1", "A1", date(2024, 3, 9), -20, "pos", "purchase"),
        transaction("T2", "A1", date(2026, 6, 1), 4, "auto", "interest"),
        transaction("T3", "A1", date(2026, 6, 2), -8, "counter", "fee"),
        transaction("T4", "A1", date(2026, 6, 3), -50, "auto", "repayment"),
    ]
    c1 = features_of([customer("C1")], [account("A1", "C1", "deposit_current")], transactions=transactions)["C1"]
    assert c1["last_tx_date"] == date(2024, 3, 9)
    # 2024-03-09 → 2025-03-09 = 365, → 2026-03-09 = 365, then 22 + 30 + 31 + 30 to 06-30
    assert c1["recency_days"] == 365 + 365 + 113
    assert c1["tx_count_90d"] == 0 and c1["active_months_6m"] == 0


def test_volume_growth_base_edges() -> None:
    transactions = [
        transaction("T1", "A1", days_before(10), -13_000, "mobile", "transfer_out"),
        transaction("T2", "A1", days_before(182), -9_000, "pos", "purchase"),
        transaction("T3", "A1", days_before(271), -1_000, "pos", "purchase"),
        transaction("T4", "A1", days_before(181), -777, "pos", "purchase"),
    ]
    c1 = features_of([customer("C1")], [account("A1", "C1", "deposit_current")], transactions=transactions)["C1"]
    # base 9,000 + 1,000 → (13,000 − 10,000) / 10,000
    assert c1["tx_volume_growth_6m"] == pytest.approx(0.3)
    # and just under 10,000 of base: null
    c1 = features_of(
        [customer("C1")], [account("A1", "C1", "deposit_current")], transactions=[*transactions[:2], transactions[3]]
    )["C1"]
    assert c1["tx_volume_growth_6m"] is None


def test_product_count_services_and_closing() -> None:
    accounts = [
        account("D1", "C9", "deposit_current"),
        account("D2", "C9", "deposit_current"),  # same category: counted once
        account("S1", "C9", "debit_card"),  # services count for coverage
        account("S2", "C9", "mobile_banking"),
        account("F1", "C9", "fund", closed_on=AS_OF),  # closed at as_of: not open
        account("W1", "C9", "wealth", opened_on=date(2026, 7, 1)),  # opens after as_of
        account("M1", "C9", "loan_mortgage", opened_on=AS_OF),  # opened at as_of: open
    ]
    balances = [balance("F1", date(2026, 1, 1), 7_000)]
    c9 = features_of([customer("C9")], accounts, balances)["C9"]
    # deposit_current, debit_card, mobile_banking, loan_mortgage
    assert c9["product_count"] == 4
    # the fund is worth 0 from its closed_on (as_of itself): 29 days of 7,000 in the 30
    assert c9["aum_avg_30d"] == pytest.approx(29 * 7_000 / 30)
    # 5 open accounts × 20
    assert c9["cost_annual"] == pytest.approx(100)


def test_age_on_the_day_before_and_of_the_birthday_and_29_february() -> None:
    customers = lake_table(
        "customers",
        [
            customer("before", birth_date=date(1990, 7, 1)),
            customer("on", birth_date=date(1990, 6, 30)),
            customer("leap", birth_date=date(2000, 2, 29)),
        ],
    )

    def ages(as_of: date) -> dict[str, int]:
        return {cid: row["age"] for cid, row in collect(customer_profile_features(customers, as_of)).items()}

    assert ages(AS_OF)["before"] == 35
    assert ages(AS_OF)["on"] == 36
    # 29 February birthdays are reached on 1 March in other years
    assert ages(date(2027, 2, 28))["leap"] == 26
    assert ages(date(2027, 3, 1))["leap"] == 27
    assert ages(date(2028, 2, 29))["leap"] == 28
    assert ages(date(2028, 2, 28))["leap"] == 27


def test_tenure_years() -> None:
    customers = lake_table(
        "customers",
        [
            customer("six", onboard_date=date(2020, 6, 30)),
            customer("half", onboard_date=date(2026, 1, 1)),
            customer("one", onboard_date=date(2025, 6, 12)),
        ],
    )
    tenure = {cid: row["tenure_years"] for cid, row in collect(customer_profile_features(customers, AS_OF)).items()}
    # 6 × 365 + 1 (29 Feb 2024) = 2,191 days / 365.25 = 5.9986 → 6.0
    assert tenure["six"] == 6.0
    # 180 days / 365.25 = 0.4928 → 0.5
    assert tenure["half"] == 0.5
    # 383 days / 365.25 = 1.0486 → 1.0
    assert tenure["one"] == 1.0


def test_margin_rates_and_costs_are_configuration() -> None:
    # every asset and liability category needs a rate
    with pytest.raises(ValueError):
        NightlyConfig(margin_rates={"deposit_current": 0.01})
    full = dict(NightlyConfig().margin_rates) | {"deposit_current": 0.01}
    config = NightlyConfig(margin_rates=full, cost_per_open_account=0)
    accounts = [account("A1", "C1", "deposit_current")]
    expr = customer_features(
        lake_table("customers", [customer("C1")]),
        lake_table("accounts", accounts),
        lake_table("products", [{"product_id": "deposit_current", "category": "deposit_current"}]),
        lake_table("balances", [balance("A1", date(2020, 1, 1), 9_000)]),
        lake_table("transactions", []),
        AS_OF,
        config,
    )
    c1 = collect(expr)["C1"]
    # 9,000 × 1%
    assert c1["revenue_annual"] == pytest.approx(90)
    assert c1["cost_annual"] == 0
