"""Value class (SPEC 4.4) and value index (SPEC 4.6) as pure Ibis expressions over the feature table."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bankcrm.analytics.config import NightlyConfig

# SPEC 4.6 life-stage score by age band (used as is, not ranked)
LIFE_STAGE_PRIME = (25, 45)
LIFE_STAGE_NEAR = ((18, 24), (46, 55))
# in tenths: SQL engines type a bare 0.3 as DECIMAL(1,1), whose conversion to float64 on the
# way out is not always the nearest double; an integer divided as a double is exact
LIFE_STAGE_SCORES_TENTHS = (10, 6, 3)


def numpy_percentile(table: ir.Table, column: str, percentile: float) -> ir.Table:
    """One row, column ``percentile``: numpy.percentile of the non-null values (default "linear" method).

    numpy's own arithmetic, step by step, so a value exactly at the percentile compares
    the same way as in numpy: q = percentile / 100; virtual index i = (n − 1)·q;
    lo = ⌊i⌋, hi = lo + 1 (both clipped to [0, n − 1]); γ = i − lo; with a, b the lo-th and
    hi-th smallest values, the result is a + (b − a)·γ when γ < 0.5, else b − (b − a)·(1 − γ).
    Null when there are no values.
    """
    q = percentile / 100
    values = table.select(value=table[column].cast("float64")).filter(lambda t: t.value.notnull())
    ranked = values.mutate(position=ibis.row_number().over(order_by=values.value))
    size = values.aggregate(n=values.count())
    virtual = size.mutate(virtual_index=(size.n - 1).cast("float64") * q)
    virtual = virtual.mutate(floor_index=virtual.virtual_index.floor())
    top = virtual.n - 1
    virtual = virtual.mutate(
        lo=ibis.ifelse(
            virtual.virtual_index >= top, top, ibis.ifelse(virtual.virtual_index < 0, 0, virtual.floor_index)
        ),
        gamma=virtual.virtual_index - virtual.floor_index.cast("float64"),
    )
    virtual = virtual.mutate(hi=ibis.ifelse(virtual.lo + 1 > top, top, virtual.lo + 1))
    pairs = ranked.cross_join(virtual)
    bounds = pairs.aggregate(
        a=pairs.value.max(where=pairs.position == pairs.lo),
        b=pairs.value.max(where=pairs.position == pairs.hi),
        gamma=pairs.gamma.max(),
    )
    diff = bounds.b - bounds.a
    return bounds.select(
        **{
            "percentile": ibis.ifelse(
                bounds.gamma >= 0.5, bounds.b - diff * (1.0 - bounds.gamma), bounds.a + diff * bounds.gamma
            )
        }
    )


def value_class(features: ir.Table, config: NightlyConfig | None = None) -> ir.Table:
    """customer_id and value_class from net_contribution.

    loss: net < 0; breakeven: 0 ≤ net < 50; high_value: net ≥ P80 (numpy linear percentile of
    net over all customers) and net ≥ 50; micro_profit: the rest.
    """
    config = config or NightlyConfig()
    cut = numpy_percentile(features, "net_contribution", config.high_value_percentile)
    rows = features.select("customer_id", "net_contribution").cross_join(cut)
    net = rows.net_contribution
    floor = config.breakeven_upper
    return rows.select(
        "customer_id",
        value_class=ibis.cases(
            (net < 0, "loss"),
            (net < floor, "breakeven"),
            ((net >= rows.percentile) & (net >= floor), "high_value"),
            else_="micro_profit",
        ),
    )


def percent_rank(column: ir.Value) -> ir.FloatingValue:
    """(rank − 1) / (n − 1) over all rows, ascending, nulls first: nulls and the lowest value score 0, ties share."""
    return ibis.percent_rank().over(order_by=ibis.asc(column, nulls_first=True))


def life_stage_score(age: ir.IntegerValue) -> ir.FloatingValue:
    """1.0 for ages 25–45; 0.6 for 18–24 and 46–55; 0.3 otherwise (unknown age included)."""
    prime, near, other = LIFE_STAGE_SCORES_TENTHS
    near_condition = ibis.or_(*(age.between(lo, hi) for lo, hi in LIFE_STAGE_NEAR))
    tenths = ibis.cases(
        (age.between(*LIFE_STAGE_PRIME), prime),
        (near_condition, near),
        else_=other,
    )
    return tenths.cast("float64") / 10


def value_index(features: ir.Table, config: NightlyConfig | None = None) -> ir.Table:
    """customer_id, current_value, potential_value, value_index (0–100).

    current_value = 100 × Σ w·pr(x) over aum_avg_90d, net_contribution, product_count, tenure_years;
    potential_value = 100 × (Σ w·pr(x) over aum_growth_6m, tx_volume_growth_6m, mobile_share_90d,
    tx_count_90d, payroll_months_3m + w·life_stage); value_index = 0.6 current + 0.4 potential.
    pr is percent_rank over all customers (see ``percent_rank``).
    """
    config = config or NightlyConfig()
    current_weights = config.current_value_weights.model_dump()
    potential_weights = config.potential_value_weights.model_dump()
    life_stage_weight = potential_weights.pop("life_stage")
    ranked_columns = list(dict.fromkeys([*current_weights, *potential_weights]))
    ranked = features.select(
        "customer_id",
        life_stage=life_stage_score(features.age),
        **{f"pr_{c}": percent_rank(features[c]) for c in ranked_columns},
    )
    current = sum((ranked[f"pr_{c}"] * w for c, w in current_weights.items()), ibis.literal(0.0)) * 100.0
    potential = (
        sum((ranked[f"pr_{c}"] * w for c, w in potential_weights.items()), ibis.literal(0.0))
        + ranked.life_stage * life_stage_weight
    ) * 100.0
    scored = ranked.select("customer_id", current_value=current, potential_value=potential)
    mix = config.value_index_weights
    return scored.mutate(
        value_index=scored.current_value * mix.current + scored.potential_value * mix.potential,
    )
