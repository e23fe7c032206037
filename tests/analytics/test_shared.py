"""The run's shared aggregates on hand-made tables (answers worked out here), and every step reading them.

as_of = 2026-06-30, so offset −k is 30 June − k days: −29 = 1 June, −30 = 31 May, −89 = 2 April.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pytest
from nightly_tables import (
    AS_OF,
    account,
    balance,
    collect,
    customer,
    days_before,
    evaluate,
    lake_table,
    money,
    products_for,
    transaction,
)

from bankcrm import lake
from bankcrm.analytics import holdings, lifetime, rule_features
from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.features import (
    DayWindow,
    account_balance_sums,
    activity_aggregates,
    customer_days,
    customer_features,
    months_with,
    summarise_days,
    transaction_rows,
    window_column,
)
from bankcrm.analytics.shared import run_balance_windows, shared_expressions

HISTORY_START = date(2026, 1, 1)


def test_window_columns_are_named_by_their_offsets() -> None:
    assert window_column(DayWindow(-29, 0)) == "bal_days_m29_0"
    assert window_column(DayWindow(-30, -30)) == "bal_days_m30_m30"
    assert window_column(DayWindow(-211, -182)) == "bal_days_m211_m182"


def test_account_balance_sums_by_hand() -> None:
    accounts = [
        account("A1", "C1", "deposit_current"),
        account("A2", "C1", "fund", closed_on=days_before(10)),  # 0 from 20 June on
        account("A3", "C2", "deposit_time"),  # no balance rows: absent
    ]
    balances = [
        balance("A1", date(2026, 1, 1), 100),  # holds up to 31 May (offset −30)
        balance("A1", days_before(29), 1_000),  # 1 June (offset −29) onwards
        balance("A1", date(2026, 7, 1), 999_999),  # after as_of: ignored
        balance("A2", days_before(40), 50),  # 21 May (−40) until the close on 20 June (−10)
    ]
    last_30 = DayWindow(-29, 0)
    nav_day = DayWindow(-30, -30)
    today = DayWindow(0, 0)
    out = collect(
        account_balance_sums(
            lake_table("balances", balances),
            lake_table("accounts", accounts),
            AS_OF,
            [last_30, nav_day, today, last_30],  # a window asked for twice is one column
        ),
        key="account_id",
    )
    assert set(out) == {"A1", "A2"}
    assert set(out["A1"]) == {"account_id", "bal_days_m29_0", "bal_days_m30_m30", "bal_days_0_0"}
    # A1: 30 days × 1,000 inside the last 30 days; 100 on 31 May; 1,000 on as_of
    assert out["A1"]["bal_days_m29_0"] == Decimal("30000.00")
    assert out["A1"]["bal_days_m30_m30"] == Decimal("100.00")
    assert out["A1"]["bal_days_0_0"] == Decimal("1000.00")
    # A2: 50 on the days −29 … −11 (19 days), 0 from the close; 50 on 31 May; 0 on as_of
    assert out["A2"]["bal_days_m29_0"] == Decimal("950.00")
    assert out["A2"]["bal_days_m30_m30"] == Decimal("50.00")
    assert out["A2"]["bal_days_0_0"] == Decimal("0.00")


def _two_days() -> tuple[list[dict], list[dict]]:
    """Accounts and transactions of one customer on as_of − 1 and as_of, and one after as_of."""
    accounts = [account("A1", "C1", "deposit_current"), account("A2", "C1", "credit_card")]
    d1, d2 = days_before(1), days_before(0)
    txs = [
        transaction("t1", "A1", d1, -100, "mobile", "transfer_out"),
        transaction("t2", "A2", d1, -50.5, "counter", "purchase"),
        transaction("t3", "A1", d1, -2, "auto", "fee"),  # a fee: not customer-initiated
        transaction("t4", "A1", d2, 8_000, "auto", "payroll"),  # bank-booked: payroll, not initiated
        transaction("t5", "A1", d2, -3, "counter", "fee"),  # a fee even at the counter
        transaction("t6", "A2", d2, -20, "pos", "purchase") | {"merchant_group": "baby"},
        transaction("t7", "A1", date(2026, 7, 1), -70, "mobile", "purchase"),  # after as_of
    ]
    return accounts, txs


def test_customer_days_by_hand() -> None:
    accounts, txs = _two_days()
    d1, d2 = days_before(1), days_before(0)
    rows = evaluate(
        customer_days(lake_table("accounts", accounts), lake_table("transactions", txs), AS_OF).order_by("tx_date")
    ).to_pylist()
    assert rows == [
        {
            "customer_id": "C1",
            "tx_date": d1,
            "initiated_count": 2,
            "initiated_volume": money("150.50"),
            "mobile_count": 1,
            "counter_count": 1,
            "fee_volume": money(2),
            "payroll_count": 0,
            "baby_purchase_count": 0,
        },
        {
            "customer_id": "C1",
            "tx_date": d2,
            "initiated_count": 1,
            "initiated_volume": money(20),
            "mobile_count": 0,
            "counter_count": 0,
            "fee_volume": money(3),
            "payroll_count": 1,
            "baby_purchase_count": 1,
        },
    ]


def test_transaction_rows_sum_to_customer_days() -> None:
    accounts, txs = _two_days()
    d1, d2 = days_before(1), days_before(0)
    acc, tx = lake_table("accounts", accounts), lake_table("transactions", txs)
    rows = transaction_rows(acc, tx, AS_OF)
    by_tx = {
        (r["tx_date"], r["initiated_volume"], r["fee_volume"]): r
        for r in evaluate(rows.order_by(["tx_date", "initiated_count"])).to_pylist()
    }
    assert len(by_tx) == 6
    # t2 at the counter: initiated, counted at the counter, no fee
    t2 = by_tx[(d1, money("50.50"), None)]
    assert (t2["initiated_count"], t2["mobile_count"], t2["counter_count"], t2["payroll_count"]) == (1, 0, 1, 0)
    # t4 payroll booked by the bank: not initiated, no volume, a payroll count
    t4 = by_tx[(d2, None, None)]
    assert (t4["initiated_count"], t4["payroll_count"], t4["baby_purchase_count"]) == (0, 1, 0)
    # summed per day they are exactly customer_days
    count_cols = ["initiated_count", "mobile_count", "counter_count", "payroll_count", "baby_purchase_count"]
    summed = rows.group_by(["customer_id", "tx_date"]).aggregate(
        **{c: rows[c].sum() for c in count_cols},
        initiated_volume=rows.initiated_volume.sum(),
        fee_volume=rows.fee_volume.sum(),
    )
    days = customer_days(acc, tx, AS_OF)
    assert collect(summed.mutate(key=summed.tx_date.cast("string")), "key") == collect(
        days.mutate(key=days.tx_date.cast("string")), "key"
    )


@pytest.mark.parametrize("config", [NightlyConfig(), NightlyConfig(activity_window_days=60, growth_lag_days=150)])
def test_day_free_aggregates_agree_over_transactions_and_days(config: NightlyConfig) -> None:
    bank = _small_bank()
    accounts = lake_table("accounts", bank["accounts"])
    transactions = lake_table("transactions", bank["transactions"])
    rule_config = rule_features.RuleFeatureConfig()

    def aggregates(rows: ir.Table) -> dict[str, ir.Value]:
        return {
            **activity_aggregates(rows, AS_OF, config),
            **lifetime.history_aggregates(rows, AS_OF, HISTORY_START),
            **rule_features.complete_month_aggregates(rows, AS_OF, rule_config),
        }

    rows = transaction_rows(accounts, transactions, AS_OF)
    days = customer_days(accounts, transactions, AS_OF)
    over_rows = collect(summarise_days(rows, aggregates(rows)))
    assert over_rows == collect(summarise_days(days, aggregates(days)))
    assert len(over_rows) == 2


def _small_bank() -> dict[str, list[dict]]:
    accounts = [
        account("A1", "C1", "deposit_current"),
        account("A2", "C1", "fund"),
        account("A3", "C2", "loan_consumer"),
        account("A4", "C2", "deposit_time", closed_on=days_before(100)),
    ]
    balances = [
        balance("A1", date(2026, 1, 1), 20_000),
        balance("A1", days_before(45), 600_000),
        balance("A2", date(2026, 2, 1), 10_000),
        balance("A2", days_before(30), 12_000),
        balance("A3", date(2026, 1, 1), 50_000),
        balance("A4", date(2026, 1, 1), 7_000),
    ]
    txs = [
        transaction("t1", "A1", date(2026, 1, 5), -1_000, "counter", "transfer_out"),
        transaction("t2", "A1", date(2026, 3, 10), 9_000, "auto", "payroll"),
        transaction("t3", "A1", date(2026, 4, 10), 9_000, "auto", "payroll"),
        transaction("t4", "A1", date(2026, 5, 10), 9_000, "auto", "payroll"),
        transaction("t5", "A1", days_before(3), -400, "mobile", "purchase") | {"merchant_group": "baby"},
        transaction("t6", "A1", days_before(3), -5, "auto", "fee"),
        transaction("t7", "A3", days_before(2), 300, "online", "repayment"),
        transaction("t8", "A3", days_before(200), -70, "counter", "cash"),
    ]
    customers = [customer("C1"), customer("C2"), customer("C3", onboard_date=date(2026, 2, 1))]
    return {"customers": customers, "accounts": accounts, "balances": balances, "transactions": txs}


def test_shared_customer_summary_by_hand() -> None:
    bank = _small_bank()
    exprs = shared_expressions(
        lake_table("accounts", bank["accounts"]),
        lake_table("balances", bank["balances"]),
        lake_table("transactions", bank["transactions"]),
        AS_OF,
        HISTORY_START,
        NightlyConfig(),
        rule_features.RuleFeatureConfig(),
    )
    out = collect(exprs.customer_summary)
    assert set(out) == {"C1", "C2"}  # C3 has no transactions
    c1, c2 = out["C1"], out["C2"]
    # activity window [2 April, 30 June]: the three payrolls are bank-booked (auto), so not initiated;
    # t5 (400, mobile) is; the April and May payrolls are inside, March's is not
    assert (c1["tx_count_90d"], c1["tx_amount_sum"], c1["mobile_count_90d"], c1["counter_count_90d"]) == (
        1,
        money(400),
        1,
        0,
    )
    assert c1["payroll_months_3m"] == 2
    assert c1["fee_sum_90d"] == money(5)
    assert c1["last_tx_date"] == days_before(3)
    # history since 1 January: fees 5; initiated t1 (counter) and t5; RFM over the days 5 Jan and 27 June
    assert (c1["history_fees"], c1["history_initiated_tx"], c1["history_counter_tx"]) == (money(5), 2, 1)
    assert (c1["initiated_days"], c1["first_initiated_day"], c1["last_initiated_day"]) == (
        2,
        date(2026, 1, 5),
        days_before(3),
    )
    assert (c1["initiated_spend"], c1["first_day_spend"]) == (money(1_400), money(1_000))
    # complete months are March, April, May: payroll in all three, the baby purchase is in June
    assert (c1["payroll_complete_months_3m"], c1["baby_purchase_months_3m"]) == (3, 0)
    # C2: t7 inside the activity window (online), t8 on 11 December 2025, before the history start
    assert (c2["tx_count_90d"], c2["tx_amount_sum"], c2["mobile_count_90d"]) == (1, money(300), 1)
    # growth base [as_of − 271, as_of − 182] = [2 October, 30 December 2025]: t8 (12 December) for C2 only
    assert (c1["base_amount_sum"], c2["base_amount_sum"]) == (None, money(70))
    assert (c2["history_initiated_tx"], c2["history_counter_tx"], c2["history_fees"]) == (1, 0, None)
    # RFM reads every day up to as_of, the history start notwithstanding
    assert (c2["initiated_days"], c2["first_day_spend"], c2["initiated_spend"]) == (2, money(70), money(370))


def test_run_windows_are_each_steps_windows_once() -> None:
    config, rule_config = NightlyConfig(), rule_features.RuleFeatureConfig()
    windows = run_balance_windows(AS_OF, HISTORY_START, config, rule_config)
    assert len(windows) == len(set(windows))
    assert DayWindow(0, 0) in windows  # bal at as_of: the features, the facts and the trend's last month-end
    assert DayWindow(-180, 0) in windows  # 1 January (history start, as_of − 180) to as_of
    assert DayWindow(-30, -30) in windows  # the NAV base day
    assert DayWindow(-119, -90) in windows  # aum_avg_30d 90 days ago
    assert DayWindow(-29, 0) in windows  # aum_avg_30d and the positions' 30 days, one column


@pytest.mark.parametrize("config", [NightlyConfig(), NightlyConfig(activity_window_days=60, growth_lag_days=150)])
def test_every_step_reads_the_shared_aggregates_as_it_computes_them_alone(config: NightlyConfig) -> None:
    bank = _small_bank()
    customers = lake_table("customers", bank["customers"])
    accounts = lake_table("accounts", bank["accounts"])
    products = lake_table("products", products_for(bank["accounts"]))
    balances = lake_table("balances", bank["balances"])
    transactions = lake_table("transactions", bank["transactions"])
    events = lake_table("behavior_events", [])
    tier_history = ibis.memtable(lake.TIER_HISTORY_SCHEMA.empty_table())
    rule_config = rule_features.RuleFeatureConfig()
    shared = shared_expressions(accounts, balances, transactions, AS_OF, HISTORY_START, config, rule_config)
    kw = {"account_sums": shared.account_sums, "customer_summary": shared.customer_summary}

    def same(alone: ir.Table, together: ir.Table, key: str = "customer_id") -> None:
        assert collect(alone, key) == collect(together, key)

    same(
        customer_features(customers, accounts, products, balances, transactions, AS_OF, config),
        customer_features(customers, accounts, products, balances, transactions, AS_OF, config, **kw),
    )
    args = (customers, accounts, products, balances, transactions, AS_OF, HISTORY_START, config)
    same(lifetime.historical_contribution(*args), lifetime.historical_contribution(*args, **kw))
    same(
        lifetime.rfm_summary(customers, accounts, transactions, AS_OF, HISTORY_START),
        lifetime.rfm_summary(
            customers, accounts, transactions, AS_OF, HISTORY_START, customer_summary=shared.customer_summary
        ),
    )
    rule_args = (customers, accounts, products, balances, transactions, events, tier_history, AS_OF, rule_config)
    same(rule_features.customer_rule_features(*rule_args), rule_features.customer_rule_features(*rule_args, **kw))
    same(
        holdings.account_month_balances(accounts, products, balances, AS_OF),
        holdings.account_month_balances(accounts, products, balances, AS_OF, account_sums=shared.account_sums),
        key="account_id",
    )


def test_months_with_counts_calendar_months_inside_the_window() -> None:
    accounts = [account("A1", "C1", "deposit_current"), account("A2", "C2", "deposit_current")]
    txs = [
        transaction("t1", "A1", date(2026, 3, 31), -10, "mobile", "purchase"),  # before the window
        transaction("t2", "A1", date(2026, 4, 2), -10, "mobile", "purchase"),  # first day: April
        transaction("t3", "A1", date(2026, 4, 30), -10, "mobile", "purchase"),  # April again
        transaction("t4", "A1", date(2026, 6, 1), -10, "auto", "fee"),  # June, but not initiated
        transaction("t5", "A1", date(2026, 6, 30), -10, "counter", "cash"),  # last day: June
        transaction("t6", "A2", date(2026, 5, 15), 10, "auto", "interest"),  # C2: nothing initiated
    ]
    days = customer_days(lake_table("accounts", accounts), lake_table("transactions", txs), AS_OF)
    out = collect(
        days.group_by("customer_id").aggregate(
            months=months_with(days.tx_date, days.initiated_count > 0, date(2026, 4, 2), AS_OF)
        )
    )
    assert {c: r["months"] for c, r in out.items()} == {"C1": 2, "C2": 0}  # April and June; May had nothing
