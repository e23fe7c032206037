"""Per-customer trigger facts for the maintenance rules (SPEC 5.3 and 5.4) as pure Ibis expressions.

Rules are SQL conditions over one table: the published scores plus the columns built here.
Every transaction-level fact a trigger needs (per-counterparty outflow sums, the last three
investments, maturities, due dates) becomes a column, so each default rule is a short
expression an analyst can read and copy. Windows are whole-day offsets from as_of, as in
``features.py``; transaction dates are Asia/Shanghai calendar dates (``tx_date``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from bankcrm.analytics.config import DEFAULT_FESTIVALS, NightlyConfig
from bankcrm.analytics.features import (
    DayWindow,
    account_balance_sums,
    customer_days,
    day_offset,
    left_join_on,
    months_with,
    summarise_days,
    window_column,
)
from bankcrm.reference import ASSET_CATEGORIES, PRODUCT_CATEGORIES

DEPOSIT_CATEGORIES = ("deposit_current", "deposit_time")
MATURING_CATEGORIES = ("deposit_time", "wealth")
DEBT_CATEGORIES = ("loan_mortgage", "loan_consumer", "loan_business", "credit_card")
INVESTMENT_CATEGORIES = ("wealth", "fund", "precious_metal", "bond")
HIGH_RISK_LEVELS = ("R4", "R5")


@dataclass(frozen=True)
class RuleFeatureConfig:
    """Windows of the trigger facts (the rule conditions hold the thresholds)."""

    maturity_window_days: int = 15
    outflow_history_days: int = 180
    nav_window_days: int = 30
    attrition_lag_days: int = 90
    event_window_days: int = 30
    complete_months: int = 3
    festivals: tuple[tuple[str, date], ...] = tuple(
        (name, date.fromisoformat(day)) for name, days in DEFAULT_FESTIVALS.items() for day in days
    )

    @classmethod
    def from_nightly(cls, config: NightlyConfig) -> RuleFeatureConfig:
        """The trigger-fact settings of a nightly configuration (the festival calendar)."""
        return cls(festivals=tuple((name, day) for name, days in config.festivals.items() for day in days))


# name → (type, meaning); the rule checker accepts exactly these plus the published score columns
RULE_FEATURE_COLUMNS: dict[str, tuple[str, str]] = {
    "branch_id": ("string", "the customer's branch"),
    "rm_id": ("string", "the customer's relationship manager (staff id); null when unassigned"),
    "occupation": ("string", "occupation code from the customer extract"),
    "gender": ("string", "M or F"),
    "city": ("string", "city of the customer"),
    "marketing_consent": ("boolean", "current marketing consent"),
    "has_rm": ("boolean", "the customer has a relationship manager"),
    "days_to_birthday": ("int64", "days from as_of to the next birthday after as_of (1–366)"),
    "days_since_onboard": ("int64", "as_of − onboard_date in days"),
    "days_since_risk_assessment": ("int64", "as_of − risk_assessed_on in days; null when never assessed"),
    "days_to_festival": ("int64", "days from as_of to the next configured festival after as_of; null when none"),
    "festival": ("string", "name of that festival"),
    "days_to_next_maturity": (
        "int64",
        "days to the nearest maturity_on after as_of among open deposit_time and wealth accounts",
    ),
    "max_maturing_time_deposit_15d": (
        "float64",
        "largest bal(a, as_of) among open deposit_time accounts with as_of < maturity_on ≤ as_of + 15",
    ),
    "days_to_next_repayment": (
        "int64",
        "days to the nearest next_due_on after as_of among open loan and card accounts",
    ),
    "max_days_past_due": ("int64", "largest days_past_due among open loan and card accounts (0 when none)"),
    "deposit_balance": ("float64", "Σ bal(a, as_of) over deposit_current and deposit_time accounts"),
    "new_payee_outflow_max": (
        "float64",
        "largest Σ|amount| of transfer_out dated as_of to one counterparty with no transaction in the 180 days before",
    ),
    "new_payee_outflow_counterparty": ("string", "pseudonymised counterparty of that outflow"),
    "last3_investment_count": ("int64", "investment transactions among the latest three up to as_of (0–3)"),
    "last3_high_risk_count": ("int64", "of those, how many went into R4/R5 products"),
    "days_since_last_investment": ("int64", "as_of − date of the latest investment transaction"),
    "fund_nav_move_max": (
        "float64",
        "largest bal(as_of)/bal(as_of − 30) − 1 over open fund accounts with no investment/redemption "
        "in [as_of − 30, as_of] and bal(as_of − 30) ≥ 1,000",
    ),
    "fund_nav_move_min": ("float64", "smallest such move"),
    "aum_avg_30d_90d_ago": ("float64", "aum_avg_30d at as_of − 90"),
    "previous_tier": ("string", "tier published at the customer's latest earlier run"),
    "mortgage_rate_views_30d": ("int64", "view_mortgage_rate events dated in [as_of − 29, as_of]"),
    "baby_purchase_months_3m": (
        "int64",
        "complete months (the three before as_of's month) with a purchase at merchant_group baby",
    ),
    "payroll_complete_months_3m": ("int64", "complete months with a positive payroll transaction"),
    "open_investment_accounts": ("int64", "open wealth, fund, precious_metal and bond accounts"),
    **{f"open_{c}_accounts": ("int64", f"open {c} accounts at as_of") for c in PRODUCT_CATEGORIES},
}


def _is_leap(year: int) -> bool:
    return calendar.isleap(year)


def days_to_birthday(birth: ir.DateValue, as_of: date) -> ir.IntegerValue:
    """Days from as_of to the next birthday strictly after as_of.

    A 29 February birthday falls on 1 March in other years, as ``age`` counts it.
    """
    today = as_of.month * 100 + as_of.day
    mmdd = birth.month() * 100 + birth.day()
    later_this_year = mmdd > today
    year = ibis.ifelse(later_this_year, as_of.year, as_of.year + 1)
    leap_target = ibis.ifelse(later_this_year, _is_leap(as_of.year), _is_leap(as_of.year + 1))
    moved = (mmdd == 229) & ~leap_target
    month = ibis.ifelse(moved, 3, birth.month())
    day = ibis.ifelse(moved, 1, birth.day())
    return ibis.date(year, month, day).delta(ibis.date(as_of), unit="day").cast("int64")


def next_festival(as_of: date, festivals: tuple[tuple[str, date], ...]) -> tuple[str, int] | None:
    """The next configured festival strictly after as_of and the days to it."""
    upcoming = sorted((day, name) for name, day in festivals if day > as_of)
    if not upcoming:
        return None
    day, name = upcoming[0]
    return name, (day - as_of).days


def complete_month_range(as_of: date, months: int) -> tuple[date, date]:
    """First and last day of the ``months`` calendar months before as_of's month."""
    last = as_of.replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, last


def fact_balance_windows(config: RuleFeatureConfig) -> dict[str, DayWindow]:
    """The trigger facts' per-account windows: bal at as_of and at as_of − nav window, the lagged 30 days."""
    return {
        "bal_as_of": DayWindow(0, 0),
        "bal_nav_base": DayWindow(-config.nav_window_days, -config.nav_window_days),
        "avg_30d_lagged": DayWindow.ending_at_as_of(30, lag=config.attrition_lag_days),
    }


def account_facts(
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    as_of: date,
    config: RuleFeatureConfig,
    *,
    account_sums: ir.Table | None = None,
) -> ir.Table:
    """Per account: category, risk level, open flag, bal at as_of and at as_of − nav window, 30-day mean 90 days ago.

    ``account_sums``: the run's shared ``account_balance_sums`` holding these windows (computed
    here from ``balances`` when not given).
    """
    windows = fact_balance_windows(config)
    sums = account_sums
    if sums is None:
        sums = account_balance_sums(balances, accounts, as_of, windows.values())
    sums = sums.select(
        "account_id",
        **{name: sums[window_column(w)].cast("float64") / w.days for name, w in windows.items()},
    )
    day = ibis.date(as_of)
    typed = accounts.join(products.select("product_id", "category", "risk_level"), "product_id", how="inner")
    typed = typed.mutate(is_open=(typed.opened_on <= day) & (typed.closed_on.isnull() | (typed.closed_on > day)))
    out = left_join_on(typed, sums, "account_id")
    return out.mutate(
        bal_as_of=out.bal_as_of.fill_null(0.0),
        bal_nav_base=out.bal_nav_base.fill_null(0.0),
        avg_30d_lagged=out.avg_30d_lagged.fill_null(0.0),
    )


def _account_rollups(facts: ir.Table, transactions: ir.Table, as_of: date, config: RuleFeatureConfig) -> ir.Table:
    day = ibis.date(as_of)
    open_ = facts.is_open
    maturity_days = facts.maturity_on.delta(day, unit="day")
    due_days = facts.next_due_on.delta(day, unit="day")
    maturing = open_ & facts.category.isin(MATURING_CATEGORIES) & (maturity_days > 0)
    reinvest = (
        open_
        & (facts.category == "deposit_time")
        & (maturity_days > 0)
        & (maturity_days <= config.maturity_window_days)
    )
    debt = open_ & facts.category.isin(DEBT_CATEGORIES)

    # fund accounts with an investment or redemption in [as_of − nav window, as_of] are left out
    flows = transactions.filter(
        transactions.category.isin(("investment", "redemption"))
        & (transactions.tx_date >= ibis.date(as_of - timedelta(days=config.nav_window_days)))
        & (transactions.tx_date <= day)
    )
    moved = flows.select("account_id").distinct().mutate(had_flow=ibis.literal(True))
    with_flows = left_join_on(facts, moved, "account_id")
    nav_ok = (
        with_flows.is_open
        & (with_flows.category == "fund")
        & with_flows.had_flow.isnull()
        & (with_flows.bal_nav_base >= 1000.0)
    )
    # (b1 − b0) / b0 rather than b1 / b0 − 1: exact at the ±thresholds for cent amounts
    move = ibis.ifelse(
        nav_ok,
        (with_flows.bal_as_of - with_flows.bal_nav_base) / with_flows.bal_nav_base,
        ibis.null("float64"),
    )
    f = with_flows.mutate(nav_move=move)
    open_counts = {
        f"open_{c}_accounts": f.account_id.count(where=f.is_open & (f.category == c)) for c in PRODUCT_CATEGORIES
    }
    return f.group_by("customer_id").aggregate(
        days_to_next_maturity=f.maturity_on.delta(day, unit="day").min(where=maturing),
        max_maturing_time_deposit_15d=f.bal_as_of.max(where=reinvest),
        days_to_next_repayment=f.next_due_on.delta(day, unit="day").min(where=debt & (due_days > 0)),
        max_days_past_due=f.days_past_due.max(where=debt),
        deposit_balance=f.bal_as_of.sum(where=f.category.isin(DEPOSIT_CATEGORIES)),
        fund_nav_move_max=f.nav_move.max(),
        fund_nav_move_min=f.nav_move.min(),
        aum_avg_30d_90d_ago=f.avg_30d_lagged.sum(where=f.category.isin(ASSET_CATEGORIES)),
        open_investment_accounts=f.account_id.count(where=f.is_open & f.category.isin(INVESTMENT_CATEGORIES)),
        **open_counts,
    )


def _new_payee_outflows(transactions: ir.Table, accounts: ir.Table, as_of: date, config: RuleFeatureConfig) -> ir.Table:
    """Per customer: the largest same-day transfer_out sum to a counterparty unseen in the history window.

    Only today's payees are looked up in the history: each is paired with every account of its
    customer, and the history's transactions are probed by (account, counterparty) — a
    semi-join against a handful of pairs, so the 180 days are scanned once and neither grouped
    nor joined to their owners. Sums stay decimal until the end, so ties are exact; among equal
    sums the smallest counterparty key is shown.
    """
    day = ibis.date(as_of)
    owners = accounts.select("account_id", "customer_id")
    today = transactions.filter(
        (transactions.tx_date == day) & (transactions.category == "transfer_out") & transactions.counterparty.notnull()
    )
    today = today.join(owners, "account_id", how="inner")
    per_payee = today.group_by(["customer_id", "counterparty"]).aggregate(outflow=today.amount.abs().sum())
    probes = per_payee.select("customer_id", "counterparty").join(owners, "customer_id", how="inner")
    first_seen = ibis.date(as_of - timedelta(days=config.outflow_history_days))
    history = transactions.filter(
        transactions.counterparty.notnull()
        & (transactions.tx_date >= first_seen)
        & (transactions.tx_date <= ibis.date(as_of - timedelta(days=1)))
    ).select("account_id", "counterparty")
    seen = history.semi_join(probes, ["account_id", "counterparty"]).distinct()
    known = probes.semi_join(seen, ["account_id", "counterparty"]).select("customer_id", "counterparty").distinct()
    new = per_payee.anti_join(known, ["customer_id", "counterparty"])
    best = new.group_by("customer_id").aggregate(top=new.outflow.max())
    at_top = new.join(best, [new.customer_id == best.customer_id, new.outflow == best.top]).select(
        new.customer_id, new.counterparty, new.outflow
    )
    top = at_top.group_by("customer_id").aggregate(
        new_payee_outflow_max=at_top.outflow.max().cast("float64"),
        new_payee_outflow_counterparty=at_top.counterparty.min(),
    )
    return top


def _last_investments(tx: ir.Table, facts: ir.Table, as_of: date) -> ir.Table:
    """Per customer: how many of the latest three investment transactions (by ts) went into R4/R5."""
    inv = tx.filter((tx.category == "investment") & (tx.tx_date <= ibis.date(as_of)))
    inv = inv.join(facts.select("account_id", "risk_level"), "account_id", how="left").select(
        inv.customer_id, inv.ts, inv.tx_id, inv.tx_date, facts.risk_level
    )
    latest_first = ibis.window(group_by=inv.customer_id, order_by=[ibis.desc(inv.ts), ibis.desc(inv.tx_id)])
    ranked = inv.mutate(rank=ibis.row_number().over(latest_first))
    last3 = ranked.filter(ranked.rank < 3)
    return last3.group_by("customer_id").aggregate(
        last3_investment_count=last3.tx_id.count(),
        last3_high_risk_count=last3.tx_id.count(where=last3.risk_level.isin(HIGH_RISK_LEVELS)),
        days_since_last_investment=ibis.date(as_of).delta(last3.tx_date.max(), unit="day"),
    )


def complete_month_aggregates(days: ir.Table, as_of: date, config: RuleFeatureConfig) -> dict[str, ir.Value]:
    """Complete months with a baby purchase, and with a positive payroll, for ``summarise_days``."""
    first, last = complete_month_range(as_of, config.complete_months)
    return {
        "baby_purchase_months_3m": months_with(days.tx_date, days.baby_purchase_count > 0, first, last),
        "payroll_complete_months_3m": months_with(days.tx_date, days.payroll_count > 0, first, last),
    }


def _event_counts(events: ir.Table, as_of: date, config: RuleFeatureConfig) -> ir.Table:
    window = DayWindow.ending_at_as_of(config.event_window_days)
    offset = day_offset(events.event_date, as_of)
    views = events.filter((events.event == "view_mortgage_rate") & window.contains(offset))
    return views.group_by("customer_id").aggregate(mortgage_rate_views_30d=views.event.count())


def _previous_tiers(history: ir.Table, as_of: date) -> ir.Table:
    earlier = history.filter(history.as_of < ibis.date(as_of))
    latest_first = ibis.window(group_by=earlier.customer_id, order_by=ibis.desc(earlier.as_of))
    ranked = earlier.mutate(rank=ibis.row_number().over(latest_first))
    return ranked.filter(ranked.rank == 0).select("customer_id", previous_tier=ranked.tier)


def customer_rule_features(
    customers: ir.Table,
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    transactions: ir.Table,
    behavior_events: ir.Table,
    tier_history: ir.Table,
    as_of: date,
    config: RuleFeatureConfig | None = None,
    *,
    account_sums: ir.Table | None = None,
    customer_summary: ir.Table | None = None,
) -> ir.Table:
    """One row per customer with exactly the RULE_FEATURE_COLUMNS (plus customer_id).

    ``account_sums`` and ``customer_summary`` are the run's shared aggregates (``shared.py``),
    holding ``fact_balance_windows`` and ``complete_month_aggregates``; without them those
    parts are computed from ``balances`` and ``transactions`` here.
    """
    config = config or RuleFeatureConfig()
    day = ibis.date(as_of)
    festival = next_festival(as_of, config.festivals)
    profile = customers.select(
        "customer_id",
        "branch_id",
        "rm_id",
        "occupation",
        "gender",
        "city",
        marketing_consent=customers.marketing_consent.fill_null(False),
        has_rm=customers.rm_id.notnull(),
        days_to_birthday=days_to_birthday(customers.birth_date, as_of),
        days_since_onboard=day.delta(customers.onboard_date, unit="day").cast("int64"),
        days_since_risk_assessment=day.delta(customers.risk_assessed_on, unit="day").cast("int64"),
        days_to_festival=ibis.literal(festival[1] if festival else None, type=dt.int64),
        festival=ibis.literal(festival[0] if festival else None, type=dt.string),
    )
    facts = account_facts(accounts, products, balances, as_of, config, account_sums=account_sums)
    until_as_of = transactions.filter(transactions.tx_date <= day)
    tx = until_as_of.join(accounts.select("account_id", "customer_id"), "account_id", how="inner")
    summary = customer_summary
    if summary is None:
        days = customer_days(accounts, transactions, as_of)
        summary = summarise_days(days, complete_month_aggregates(days, as_of, config))
    months = summary.select("customer_id", "baby_purchase_months_3m", "payroll_complete_months_3m")
    parts = (
        _account_rollups(facts, until_as_of, as_of, config),
        _new_payee_outflows(until_as_of, accounts, as_of, config),
        _last_investments(tx, facts, as_of),
        months,
        _event_counts(behavior_events, as_of, config),
        _previous_tiers(tier_history, as_of),
    )
    joined = profile
    for part in parts:
        joined = left_join_on(joined, part, "customer_id")
    zero_int = [
        "max_days_past_due",
        "last3_investment_count",
        "last3_high_risk_count",
        "mortgage_rate_views_30d",
        "baby_purchase_months_3m",
        "payroll_complete_months_3m",
        "open_investment_accounts",
        *(f"open_{c}_accounts" for c in PRODUCT_CATEGORIES),
    ]
    zero_float = ["deposit_balance", "aum_avg_30d_90d_ago"]
    out = joined.mutate(
        **{c: joined[c].fill_null(0).cast("int64") for c in zero_int},
        **{c: joined[c].fill_null(0.0).cast("float64") for c in zero_float},
        days_to_next_maturity=joined.days_to_next_maturity.cast("int64"),
        days_to_next_repayment=joined.days_to_next_repayment.cast("int64"),
        days_since_last_investment=joined.days_since_last_investment.cast("int64"),
        max_maturing_time_deposit_15d=joined.max_maturing_time_deposit_15d.cast("float64"),
        new_payee_outflow_max=joined.new_payee_outflow_max.cast("float64"),
        fund_nav_move_max=joined.fund_nav_move_max.cast("float64"),
        fund_nav_move_min=joined.fund_nav_move_min.cast("float64"),
    )
    return out.select("customer_id", *RULE_FEATURE_COLUMNS)
