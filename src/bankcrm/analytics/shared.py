"""The two aggregates every step of a nightly run reads, built once per run (pure Ibis expressions).

The features, the lifetime values, the trigger facts of the maintenance rules and the 360
view's positions all start from the same two scans, so the run does each scan once and
materialises the result (``engines.materialize``):

- ``account_sums``: per account, Σ bal(a, d) over the days of every balance window any step
  uses (``features.account_balance_sums``: the balance rows' day ranges, intersected with each
  window, decimal and exact). Each step asks for its own windows (``feature_balance_windows``,
  ``fact_balance_windows``, ``holding_balance_windows``, ``lifetime.history_window``); a
  window asked for twice is one column.
- ``customer_summary``: per customer, every transaction aggregate any step uses, in one
  group-by over ``features.customer_days`` (the transactions joined to their owners once, then
  counted and summed per customer and day). Each step contributes its aggregates
  (``activity_aggregates``, ``history_aggregates``, ``rfm_aggregates``,
  ``complete_month_aggregates``); counts and decimal sums of days add up to exactly what the
  transactions give.

Each step's function takes these as keyword arguments and otherwise computes its own part from
the raw tables through the same functions, so a step tested alone runs the same formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis.expr.types as ir

from bankcrm.analytics import holdings, lifetime, rule_features
from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.features import (
    DayWindow,
    account_balance_sums,
    activity_aggregates,
    customer_days,
    feature_balance_windows,
    summarise_days,
)


@dataclass(frozen=True)
class SharedExpressions:
    """The run's shared aggregates as expressions (the nightly run materialises both)."""

    account_sums: ir.Table
    customer_summary: ir.Table


def run_balance_windows(
    as_of: date,
    history_start: date,
    config: NightlyConfig,
    rule_config: rule_features.RuleFeatureConfig,
    months: int = holdings.TREND_MONTHS,
) -> list[DayWindow]:
    """Every per-account balance window of one run, without repeats."""
    windows = [
        *feature_balance_windows(config).values(),
        *rule_features.fact_balance_windows(rule_config).values(),
        *holdings.holding_balance_windows(as_of, months).values(),
        lifetime.history_window(as_of, history_start),
    ]
    return list(dict.fromkeys(windows))


def shared_expressions(
    accounts: ir.Table,
    balances: ir.Table,
    transactions: ir.Table,
    as_of: date,
    history_start: date,
    config: NightlyConfig,
    rule_config: rule_features.RuleFeatureConfig,
    months: int = holdings.TREND_MONTHS,
) -> SharedExpressions:
    """The per-account balance sums and the per-customer transaction summary every step of the run reads."""
    account_sums = account_balance_sums(
        balances, accounts, as_of, run_balance_windows(as_of, history_start, config, rule_config, months)
    )
    days = customer_days(accounts, transactions, as_of)
    aggregates: dict[str, ir.Value] = {}
    for part in (
        activity_aggregates(days, as_of, config),
        lifetime.history_aggregates(days, as_of, history_start),
        lifetime.rfm_aggregates(days),
        rule_features.complete_month_aggregates(days, as_of, rule_config),
    ):
        clash = aggregates.keys() & part.keys()
        if clash:
            raise ValueError(f"two steps name a summary column alike: {sorted(clash)}")
        aggregates.update(part)
    return SharedExpressions(account_sums=account_sums, customer_summary=summarise_days(days, aggregates))
