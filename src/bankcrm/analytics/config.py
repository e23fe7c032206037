"""Every number of the nightly run (SPEC section 4), with the SPEC defaults, validated once."""

from __future__ import annotations

import math
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bankcrm.reference import ASSET_CATEGORIES, LIABILITY_CATEGORIES, PRODUCT_CATEGORIES, SERVICE_CATEGORIES

WEIGHT_TOLERANCE = 1e-9

DEFAULT_MARGIN_RATES: dict[str, float] = {
    "deposit_current": 0.015,
    "deposit_time": 0.008,
    "wealth": 0.006,
    "fund": 0.008,
    "insurance": 0.010,
    "precious_metal": 0.005,
    "bond": 0.003,
    "loan_mortgage": 0.012,
    "loan_consumer": 0.030,
    "loan_business": 0.020,
    "credit_card": 0.025,
    # services carry no balance, hence no margin
    "debit_card": 0.0,
    "mobile_banking": 0.0,
    "payroll_service": 0.0,
}


# Festival dates follow the lunar calendar, which no formula a bank would trust gives; they are
# configuration (SPEC 5.3 "a configured festival"), extended for later years with `bankcrm config set`.
DEFAULT_FESTIVALS: dict[str, tuple[str, ...]] = {
    "spring_festival": (
        "2024-02-10",
        "2025-01-29",
        "2026-02-17",
        "2027-02-06",
        "2028-01-26",
        "2029-02-13",
        "2030-02-03",
    ),
    "mid_autumn": (
        "2024-09-17",
        "2025-10-06",
        "2026-09-25",
        "2027-09-15",
        "2028-10-03",
        "2029-09-22",
        "2030-09-12",
    ),
}


def _check_weights(name: str, weights: dict[str, float]) -> None:
    if any(w < 0 or math.isnan(w) for w in weights.values()):
        raise ValueError(f"{name}: weights must be non-negative")
    total = math.fsum(weights.values())
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise ValueError(f"{name}: weights must sum to 1 (got {total!r})")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CurrentValueWeights(_Frozen):
    """Weights of the percent-ranked indicators in current_value (SPEC 4.6)."""

    aum_avg_90d: float = 0.45
    net_contribution: float = 0.30
    product_count: float = 0.15
    tenure_years: float = 0.10

    @model_validator(mode="after")
    def _sum_to_one(self) -> CurrentValueWeights:
        _check_weights("current_value", self.model_dump())
        return self


class PotentialValueWeights(_Frozen):
    """Weights in potential_value; life_stage is the unranked life-stage score (SPEC 4.6)."""

    aum_growth_6m: float = 0.30
    tx_volume_growth_6m: float = 0.15
    mobile_share_90d: float = 0.15
    tx_count_90d: float = 0.15
    payroll_months_3m: float = 0.10
    life_stage: float = 0.15

    @model_validator(mode="after")
    def _sum_to_one(self) -> PotentialValueWeights:
        _check_weights("potential_value", self.model_dump())
        return self


class ValueIndexWeights(_Frozen):
    """value_index = current × current_value + potential × potential_value."""

    current: float = 0.6
    potential: float = 0.4

    @model_validator(mode="after")
    def _sum_to_one(self) -> ValueIndexWeights:
        _check_weights("value_index", self.model_dump())
        return self


class NightlyConfig(_Frozen):
    """Thresholds, windows, rates and weights of the nightly run; defaults are SPEC section 4's."""

    # 4.2 / 4.4 windows, in days ending at as_of inclusive (the AUM windows 30/90/180 are fixed:
    # the published column names carry them)
    activity_window_days: int = Field(default=90, gt=0)
    active_months_window_days: int = Field(default=182, gt=0)
    # the growth base is the same-length window this many days earlier
    growth_lag_days: int = Field(default=182, gt=0)
    growth_min_base: float = Field(default=10_000.0, ge=0)

    # 4.3 tiers
    vip_aum_threshold: float = Field(default=500_000.0, ge=0)
    potential_growth_threshold: float = 0.30
    downgrade_after_month_ends: int = Field(default=3, ge=1)

    # 4.4 value class
    margin_rates: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MARGIN_RATES))
    cost_per_counter_tx: float = Field(default=8.0, ge=0)
    cost_per_other_tx: float = Field(default=0.5, ge=0)
    cost_per_open_account: float = Field(default=20.0, ge=0)
    breakeven_upper: float = Field(default=50.0, ge=0)
    high_value_percentile: float = Field(default=80.0, gt=0, lt=100)

    # 4.5 segments
    segment_sample_size: int = Field(default=200_000, gt=0)
    segment_seed: int = 20260101

    # 4.8 outputs: per-customer scores of the newest N published runs are kept; tier history always is
    keep_score_runs: int = Field(default=3, ge=1)

    # 4.7 lifetime value: potential = Σ_{t=1..years} current × r^t / (1 + discount)^t
    clv_years: int = Field(default=5, ge=1, le=50)
    clv_discount_rate: float = Field(default=0.08, gt=-1, lt=1)
    # fewer active customers than this and the BG/NBD fit is skipped (p_alive null, retention 0)
    clv_min_customers: int = Field(default=20, ge=2)

    # 5.3 festival greetings: festival name → its dates
    festivals: dict[str, list[date]] = Field(
        default_factory=lambda: {k: [date.fromisoformat(d) for d in v] for k, v in DEFAULT_FESTIVALS.items()}
    )

    # 4.6 value index
    current_value_weights: CurrentValueWeights = Field(default_factory=CurrentValueWeights)
    potential_value_weights: PotentialValueWeights = Field(default_factory=PotentialValueWeights)
    value_index_weights: ValueIndexWeights = Field(default_factory=ValueIndexWeights)

    @field_validator("festivals")
    @classmethod
    def _festival_names(cls, value: dict[str, list[date]]) -> dict[str, list[date]]:
        for name in value:
            if not name or not name.replace("_", "").isalnum():
                raise ValueError(f"festival names are words with letters, digits and '_': {name!r}")
        return {name: sorted(set(days)) for name, days in value.items()}

    @field_validator("margin_rates")
    @classmethod
    def _every_category_priced(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(PRODUCT_CATEGORIES)
        if unknown:
            raise ValueError(f"margin rates for unknown categories: {sorted(unknown)}")
        missing = set(ASSET_CATEGORIES + LIABILITY_CATEGORIES) - set(value)
        if missing:
            raise ValueError(f"margin rates missing for: {sorted(missing)}")
        if any(rate < 0 for rate in value.values()):
            raise ValueError("margin rates must be non-negative")
        # a service has no balance; fill absent services with 0 so every category has a rate
        return {**dict.fromkeys(SERVICE_CATEGORIES, 0.0), **value}
