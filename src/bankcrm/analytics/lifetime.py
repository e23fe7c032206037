"""Lifetime-value inputs as pure Ibis expressions (SPEC 4.7): realised contribution and RFM summaries.

- ``historical_contribution``: the net contribution realised over the loaded history, i.e.
  the same revenue and cost rules as ``net_contribution`` (SPEC 4.4) applied day by day
  from the first day of history to as_of instead of annualised from 90 days:
  Σ_accounts Σ_days bal(a, d) × margin(category) / 365 + Σ |fees|
  − (customer-initiated counter tx × 8 + other customer-initiated tx × 0.5)
  − 20 / 365 × account-days open. Summing month by month gives the same total.
- ``rfm_summary``: the BG/NBD inputs on day grain from customer-initiated transaction days
  up to as_of: frequency = distinct transaction days − 1, recency = last − first day,
  T = as_of − first day (all in days), monetary_value = mean |amount| per repeat day;
  customers without activity get x = t_x = 0 and T since they could have started.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.features import (
    DAYS_PER_YEAR,
    balance_intervals,
    day_offset,
    is_customer_initiated,
    left_join_on,
)


def historical_contribution(
    customers: ir.Table,
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    transactions: ir.Table,
    as_of: date,
    history_start: date,
    config: NightlyConfig | None = None,
) -> ir.Table:
    """customer_id, clv_historical: contribution realised over [history_start, as_of] (0 without data)."""
    config = config or NightlyConfig()
    first = (history_start - as_of).days
    intervals = balance_intervals(balances, accounts, as_of)
    start = ibis.greatest(intervals.start_day, first)
    end = ibis.least(intervals.end_day, 1)
    intervals = intervals.mutate(days=ibis.ifelse(end > start, end - start, 0))
    typed = accounts.select("account_id", "customer_id", "product_id", "opened_on", "closed_on").join(
        products.select("product_id", "category"), "product_id", how="inner"
    )
    margin = typed.category.substitute(config.margin_rates, else_=0.0).cast("float64")
    typed = typed.mutate(margin=margin)
    balance_days = intervals.join(typed.select("account_id", "customer_id", "margin"), "account_id", how="inner")
    margin_revenue = balance_days.group_by("customer_id").aggregate(
        margin_revenue=(
            balance_days.balance.cast("float64") * balance_days.days.cast("float64") * balance_days.margin
        ).sum()
        / DAYS_PER_YEAR
    )

    # account-days open inside the history window: [max(opened, start), min(closed, as_of + 1))
    open_from = ibis.greatest(day_offset(typed.opened_on, as_of), first)
    open_to = ibis.least(day_offset(typed.closed_on, as_of).fill_null(1), 1)
    open_days = typed.group_by("customer_id").aggregate(
        open_days=ibis.ifelse(open_to > open_from, open_to - open_from, 0).sum()
    )

    tx = transactions.filter(
        (transactions.tx_date <= ibis.date(as_of)) & (transactions.tx_date >= ibis.date(history_start))
    )
    tx = tx.join(accounts.select("account_id", "customer_id"), "account_id", how="inner")
    initiated = is_customer_initiated(tx)
    tx_costs = tx.group_by("customer_id").aggregate(
        fees=tx.amount.abs().sum(where=tx.category == "fee").cast("float64"),
        counter_tx=tx.amount.count(where=initiated & (tx.channel == "counter")),
        other_tx=tx.amount.count(where=initiated & (tx.channel != "counter")),
    )

    out = customers.select("customer_id")
    for part in (margin_revenue, open_days, tx_costs):
        out = left_join_on(out, part, "customer_id")
    revenue = out.margin_revenue.fill_null(0.0) + out.fees.fill_null(0.0)
    cost = (
        out.counter_tx.fill_null(0).cast("float64") * config.cost_per_counter_tx
        + out.other_tx.fill_null(0).cast("float64") * config.cost_per_other_tx
        + out.open_days.fill_null(0).cast("float64") * config.cost_per_open_account / DAYS_PER_YEAR
    )
    return out.select("customer_id", clv_historical=revenue - cost)


def rfm_summary(
    customers: ir.Table, accounts: ir.Table, transactions: ir.Table, as_of: date, history_start: date
) -> ir.Table:
    """customer_id, frequency, recency, T, monetary_value, active (day grain).

    A customer with no customer-initiated transaction has not made a first purchase yet:
    frequency = recency = 0 and T = days since max(onboard_date, history_start), so the
    fitted model still gives a p_alive and a retention; ``active`` is false and such
    customers are left out of the fit (BG/NBD starts the clock at the first purchase).
    """
    tx = transactions.filter(transactions.tx_date <= ibis.date(as_of))
    tx = tx.filter(is_customer_initiated(tx))
    tx = tx.join(accounts.select("account_id", "customer_id"), "account_id", how="inner")
    daily = tx.group_by(["customer_id", "tx_date"]).aggregate(spend=tx.amount.abs().sum().cast("float64"))
    first_day = ibis.window(group_by=daily.customer_id, order_by=daily.tx_date)
    daily = daily.mutate(day_no=ibis.row_number().over(first_day))
    summary = daily.group_by("customer_id").aggregate(
        days=daily.tx_date.count(),
        first=daily.tx_date.min(),
        last=daily.tx_date.max(),
        repeat_spend=daily.spend.sum(where=daily.day_no > 0),
    )
    base = customers.select(
        "customer_id",
        since=ibis.greatest(customers.onboard_date, ibis.date(history_start)),
    )
    joined = base.left_join(summary, base.customer_id == summary.customer_id)
    active = joined.days.notnull()
    idle_t = ibis.greatest(ibis.date(as_of).delta(joined.since, unit="day"), 0)
    return joined.select(
        base.customer_id,
        frequency=ibis.ifelse(active, joined.days - 1, 0).cast("float64"),
        recency=ibis.ifelse(active, joined.last.delta(joined.first, unit="day"), 0).cast("float64"),
        T=ibis.ifelse(active, ibis.date(as_of).delta(joined.first, unit="day"), idle_t).cast("float64"),
        monetary_value=ibis.ifelse(
            joined.days > 1, joined.repeat_spend / (joined.days - 1).cast("float64"), ibis.null("float64")
        ),
        active=active,
    )
