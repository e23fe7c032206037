"""Maintenance tiers (SPEC 4.3): the raw tier from the handbook thresholds and the published tier with hysteresis."""

from __future__ import annotations

import calendar
from datetime import date

import ibis
import ibis.expr.types as ir

from bankcrm.analytics.config import NightlyConfig

TIER_RANK: dict[str, int] = {"ordinary": 1, "potential": 2, "vip": 3}
TIER_HISTORY_COLUMNS: tuple[str, ...] = ("customer_id", "as_of", "tier_raw", "tier")


def tier_raw(features: ir.Table, config: NightlyConfig | None = None) -> ir.StringValue:
    """vip if aum_avg_30d ≥ 500,000; else potential if a 6-month growth ≥ 0.30; else ordinary (null never qualifies)."""
    config = config or NightlyConfig()
    threshold = config.potential_growth_threshold
    # a comparison with null is null; filling it with False keeps a missing growth from qualifying
    grows = (features.aum_growth_6m >= threshold).fill_null(False) | (
        features.tx_volume_growth_6m >= threshold
    ).fill_null(False)
    return ibis.ifelse(
        (features.aum_avg_30d >= config.vip_aum_threshold).fill_null(False),
        "vip",
        ibis.ifelse(grows, "potential", "ordinary"),
    )


def with_tier_raw(features: ir.Table, config: NightlyConfig | None = None) -> ir.Table:
    """``features`` plus its tier_raw column."""
    return features.mutate(tier_raw=tier_raw(features, config))


def is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _is_month_end(day: ir.DateValue) -> ir.BooleanValue:
    return (day + ibis.interval(days=1)).day() == 1


def _rank(tier: ir.StringValue) -> ir.IntegerValue:
    return tier.substitute(TIER_RANK, else_=0).cast("int64")


def apply_hysteresis(
    current: ir.Table,
    history: ir.Table,
    as_of: date,
    config: NightlyConfig | None = None,
) -> ir.Table:
    """The published tier for this run: ``current`` (customer_id, tier_raw) → (customer_id, tier_raw, tier).

    ``history`` holds earlier published runs, one row per customer and run: customer_id,
    as_of, tier_raw, tier. Rows with as_of ≥ this run's as_of are ignored (a rerun replaces
    its own date).

    - The reference tier is the customer's tier at the latest earlier run. No earlier run → tier = tier_raw.
    - tier_raw at or above the reference (an upgrade or no change) → tier = tier_raw at once.
    - tier_raw below the reference → tier = tier_raw only when the customer's latest k
      month-end runs (k = ``downgrade_after_month_ends``, default 3) all had tier_raw below the
      reference; otherwise the reference tier is kept. The runs counted are month-end runs
      (as_of is the last day of its month) since the reference tier took effect — runs whose
      published tier was something else are never counted — plus this run if it is itself a
      month-end. Runs are consecutive in the run history; a month with no month-end run is
      skipped, not a break. Runs on other days neither count nor break the streak.

    Example (k = 3, reference vip): raw potential at month-ends 31 Jan and 28 Feb keeps vip;
    raw potential again at 31 Mar makes the tier potential at the 31 Mar run. Had 28 Feb been
    raw vip, the count would start again from 31 Mar.
    """
    config = config or NightlyConfig()
    k = config.downgrade_after_month_ends
    run_day = ibis.date(as_of)
    earlier = history.filter(history.as_of < run_day).select("customer_id", "as_of", "tier_raw", "tier")

    latest_first = ibis.window(group_by=earlier.customer_id, order_by=ibis.desc(earlier.as_of))
    ranked = earlier.mutate(recency=ibis.row_number().over(latest_first))
    reference = ranked.filter(ranked.recency == 0).select("customer_id", reference_tier=ranked.tier)

    with_reference = earlier.join(reference, "customer_id", how="inner")
    # the reference tier took effect after the latest run whose published tier was different
    last_other = with_reference.group_by("customer_id").aggregate(
        last_other_run=with_reference.as_of.max(where=with_reference.tier != with_reference.reference_tier)
    )
    since_reference = with_reference.join(last_other, "customer_id", how="inner")
    counted_earlier = since_reference.filter(
        _is_month_end(since_reference.as_of)
        & (since_reference.last_other_run.isnull() | (since_reference.as_of > since_reference.last_other_run))
    ).select("customer_id", "as_of", "tier_raw", "reference_tier")

    counted = counted_earlier
    if is_month_end(as_of):
        this_run = current.join(reference, "customer_id", how="inner").select(
            "customer_id", "tier_raw", "reference_tier", as_of=run_day
        )
        counted = counted.union(this_run.select(*counted_earlier.columns))

    newest_first = ibis.window(group_by=counted.customer_id, order_by=ibis.desc(counted.as_of))
    counted = counted.mutate(position=ibis.row_number().over(newest_first))
    last_k = counted.filter(counted.position < k)
    streak = last_k.group_by("customer_id").aggregate(
        runs=last_k.as_of.count(),
        runs_lower=last_k.as_of.count(where=_rank(last_k.tier_raw) < _rank(last_k.reference_tier)),
    )
    downgrade_due = streak.select("customer_id", downgrade_due=(streak.runs == k) & (streak.runs_lower == k))

    decided = current.select("customer_id", "tier_raw")
    decided = decided.left_join(reference, decided.customer_id == reference.customer_id).select(
        decided, reference.reference_tier
    )
    decided = decided.left_join(downgrade_due, decided.customer_id == downgrade_due.customer_id).select(
        decided, downgrade_due.downgrade_due
    )
    keeps_raw = (
        decided.reference_tier.isnull()
        | (_rank(decided.tier_raw) >= _rank(decided.reference_tier))
        | decided.downgrade_due.fill_null(False)
    )
    return decided.select(
        "customer_id",
        "tier_raw",
        tier=ibis.ifelse(keeps_raw, decided.tier_raw, decided.reference_tier),
    )
