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
    DayWindow,
    account_balance_sums,
    customer_days,
    day_offset,
    left_join_on,
    summarise_days,
    window_column,
)


def history_window(as_of: date, history_start: date) -> DayWindow:
    """[history_start, as_of] as day offsets from as_of."""
    return DayWindow(first=(history_start - as_of).days, last=0)


def history_aggregates(days: ir.Table, as_of: date, history_start: date) -> dict[str, ir.Value]:
    """Fees and customer-initiated transaction counts over [history_start, as_of], for ``summarise_days``."""
    inside = history_window(as_of, history_start).contains(day_offset(days.tx_date, as_of))
    return {
        "history_fees": days.fee_volume.sum(where=inside),
        "history_initiated_tx": days.initiated_count.sum(where=inside),
        "history_counter_tx": days.counter_count.sum(where=inside),
    }


def rfm_aggregates(days: ir.Table) -> dict[str, ir.Value]:
    """Customer-initiated transaction days up to as_of, for ``summarise_days``.

    ``first_day_spend`` is the spend of the first such day, so the repeat days' spend is the
    total less that (exact: both are decimal sums). It is the smallest (day, spend) pair — a
    plain aggregate both engines compute in bounded memory; an ordered aggregate (``argmin``
    compiles to ``FIRST(… ORDER BY …)`` on DuckDB) keeps every day of a customer in memory.
    """
    initiated = days.initiated_count > 0
    first_day = ibis.struct({"day": days.tx_date, "spend": days.initiated_volume}).min(where=initiated)
    return {
        "initiated_days": days.tx_date.count(where=initiated),
        "first_initiated_day": days.tx_date.min(where=initiated),
        "last_initiated_day": days.tx_date.max(where=initiated),
        "initiated_spend": days.initiated_volume.sum(where=initiated),
        "first_day_spend": first_day.spend,
    }


def historical_contribution(
    customers: ir.Table,
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    transactions: ir.Table,
    as_of: date,
    history_start: date,
    config: NightlyConfig | None = None,
    *,
    account_sums: ir.Table | None = None,
    customer_summary: ir.Table | None = None,
) -> ir.Table:
    """customer_id, clv_historical: contribution realised over [history_start, as_of] (0 without data).

    ``account_sums`` / ``customer_summary``: the run's shared aggregates holding the history
    window and the ``history_aggregates`` for this history_start (computed here when not given).
    """
    config = config or NightlyConfig()
    window = history_window(as_of, history_start)
    sums = account_sums
    if sums is None:
        sums = account_balance_sums(balances, accounts, as_of, [window])
    typed = accounts.select("account_id", "customer_id", "product_id", "opened_on", "closed_on").join(
        products.select("product_id", "category"), "product_id", how="inner"
    )
    margin = typed.category.substitute(config.margin_rates, else_=0.0).cast("float64")
    typed = typed.mutate(margin=margin)
    # Σ_days bal(a, d) per account is exact (decimal); × margin / 365 per account, summed per customer
    balance_days = sums.select("account_id", balance_days=sums[window_column(window)].cast("float64")).join(
        typed.select("account_id", "customer_id", "margin"), "account_id", how="inner"
    )
    margin_revenue = balance_days.group_by("customer_id").aggregate(
        margin_revenue=(balance_days.balance_days * balance_days.margin).sum() / DAYS_PER_YEAR
    )

    # account-days open inside the history window: [max(opened, start), min(closed, as_of + 1))
    first = window.first
    open_from = ibis.greatest(day_offset(typed.opened_on, as_of), first)
    open_to = ibis.least(day_offset(typed.closed_on, as_of).fill_null(1), 1)
    open_days = typed.group_by("customer_id").aggregate(
        open_days=ibis.ifelse(open_to > open_from, open_to - open_from, 0).sum()
    )

    summary = customer_summary
    if summary is None:
        days = customer_days(accounts, transactions, as_of)
        summary = summarise_days(days, history_aggregates(days, as_of, history_start))
    tx_costs = summary.select(
        "customer_id",
        fees=summary.history_fees.cast("float64"),
        counter_tx=summary.history_counter_tx,
        other_tx=summary.history_initiated_tx - summary.history_counter_tx,
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
    customers: ir.Table,
    accounts: ir.Table,
    transactions: ir.Table,
    as_of: date,
    history_start: date,
    *,
    customer_summary: ir.Table | None = None,
) -> ir.Table:
    """customer_id, frequency, recency, T, monetary_value, active (day grain).

    A customer with no customer-initiated transaction has not made a first purchase yet:
    frequency = recency = 0 and T = days since max(onboard_date, history_start), so the
    fitted model still gives a p_alive and a retention; ``active`` is false and such
    customers are left out of the fit (BG/NBD starts the clock at the first purchase).
    ``customer_summary``: the run's shared table holding the ``rfm_aggregates``.
    """
    summary = customer_summary
    if summary is None:
        days = customer_days(accounts, transactions, as_of)
        summary = summarise_days(days, rfm_aggregates(days))
    base = customers.select(
        "customer_id",
        since=ibis.greatest(customers.onboard_date, ibis.date(history_start)),
    )
    joined = base.left_join(summary, base.customer_id == summary.customer_id)
    days_seen = joined.initiated_days.fill_null(0)
    active = days_seen > 0
    first, last = joined.first_initiated_day, joined.last_initiated_day
    repeat_spend = (joined.initiated_spend - joined.first_day_spend).cast("float64")
    idle_t = ibis.greatest(ibis.date(as_of).delta(joined.since, unit="day"), 0)
    return joined.select(
        base.customer_id,
        frequency=ibis.ifelse(active, days_seen - 1, 0).cast("float64"),
        recency=ibis.ifelse(active, last.delta(first, unit="day"), 0).cast("float64"),
        T=ibis.ifelse(active, ibis.date(as_of).delta(first, unit="day"), idle_t).cast("float64"),
        monetary_value=ibis.ifelse(days_seen > 1, repeat_spend / (days_seen - 1).cast("float64"), ibis.null("float64")),
        active=active,
    )
