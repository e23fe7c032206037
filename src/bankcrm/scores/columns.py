"""Names of the published per-customer columns (SPEC sections 4 and 10), in one place.

Kept free of heavy imports so the export path and the analytics both use it.
"""

from __future__ import annotations

# SPEC 4.1, 4.2 and the 4.4 inputs: what the feature step computes, in this order
FEATURE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "aum_avg_30d",
    "aum_avg_90d",
    "aum_avg_180d",
    "aum_growth_6m",
    "liability_balance",
    "tx_count_90d",
    "tx_amount_90d",
    "tx_volume_growth_6m",
    "mobile_share_90d",
    "counter_share_90d",
    "last_tx_date",
    "recency_days",
    "active_months_6m",
    "payroll_months_3m",
    "product_count",
    "age",
    "tenure_years",
    "revenue_annual",
    "cost_annual",
    "net_contribution",
)

# the labels and values the later steps add
LABEL_COLUMNS: tuple[str, ...] = (
    "value_class",
    "tier_raw",
    "tier",
    "segment",
    "current_value",
    "potential_value",
    "value_index",
    "clv_historical",
    "clv_current",
    "clv_potential",
    "p_alive",
)

# SPEC section 10: `bankcrm scores export` writes exactly these, in this order
EXPORT_COLUMNS: tuple[str, ...] = FEATURE_COLUMNS + LABEL_COLUMNS
