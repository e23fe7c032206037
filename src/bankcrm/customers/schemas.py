"""JSON shapes of the customer API: masked by construction (the services only hand out masked values)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bankcrm.customers.service import MAX_MATURITY_DAYS, MAX_PAGE_SIZE, Customer360, CustomerPage, cents

RevealableField = Literal["id_number", "phone", "address", "email"]


class CustomerListParams(BaseModel):
    """The list's query parameters, validated in one go (each is also documented on its own in OpenAPI)."""

    tier: Literal["vip", "potential", "ordinary"] | None = None
    segment: Literal["A", "B", "C", "D"] | None = None
    value_class: Literal["high_value", "micro_profit", "breakeven", "loss"] | None = None
    q: str | None = Field(default=None, max_length=100, description="name prefix, or exact mobile / ID number")
    sort: Literal["value_index", "aum"] = "value_index"
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    maturing_within_days: int | None = Field(
        default=None,
        ge=0,
        le=MAX_MATURITY_DAYS,
        description="only customers with an open time deposit or wealth product maturing within this many days",
    )


class CustomerListItem(BaseModel):
    customer_id: str
    name: str | None = Field(description="masked: surname only")
    phone: str | None = Field(description="masked: first 3 and last 4 digits")
    branch_id: str
    rm_id: str | None
    tier: str | None
    segment: str | None
    value_class: str | None
    aum_avg_30d: Decimal | None = Field(description="average AUM over 30 days, CNY")
    value_index: float | None


class CustomerListPage(BaseModel):
    items: list[CustomerListItem]
    total: int
    page: int
    page_size: int
    run_id: int | None = Field(description="the published nightly run the scores come from")
    as_of: date | None

    @classmethod
    def of(cls, page: CustomerPage) -> CustomerListPage:
        return cls(
            items=[CustomerListItem.model_validate(r, from_attributes=True) for r in page.rows],
            total=page.total,
            page=page.page,
            page_size=page.page_size,
            run_id=page.run_id,
            as_of=page.as_of,
        )


class ScoreRead(BaseModel):
    """The latest published scores (SPEC section 4 names); amounts in CNY."""

    model_config = ConfigDict(from_attributes=True)

    run_id: int
    tier: str | None
    tier_raw: str | None
    segment: str | None
    value_class: str | None
    value_index: float | None
    current_value: float | None
    potential_value: float | None
    aum_avg_30d: Decimal | None
    aum_avg_90d: Decimal | None
    aum_avg_180d: Decimal | None
    aum_growth_6m: float | None
    liability_balance: Decimal | None
    net_contribution: Decimal | None
    clv_historical: Decimal | None
    clv_current: Decimal | None
    clv_potential: Decimal | None
    p_alive: float | None
    recency_days: int | None
    product_count: int | None


class TierHistoryItem(BaseModel):
    as_of: date
    tier: str


class CustomerProfile(BaseModel):
    customer_id: str
    name: str | None
    gender: str
    birth_date: date
    id_number: str | None
    phone: str | None
    address: str | None
    email: str | None
    branch_id: str
    rm_id: str | None


class Customer360Read(BaseModel):
    profile: CustomerProfile
    scores: ScoreRead | None
    as_of: date | None
    tier_history: list[TierHistoryItem]

    @classmethod
    def of(cls, view: Customer360) -> Customer360Read:
        score = None
        if view.score is not None:
            s = view.score
            money = (
                *("aum_avg_30d", "aum_avg_90d", "aum_avg_180d", "liability_balance", "net_contribution"),
                *("clv_historical", "clv_current", "clv_potential"),
            )
            data = {name: getattr(s, name) for name in ScoreRead.model_fields}
            data.update({name: cents(getattr(s, name)) for name in money})
            score = ScoreRead.model_validate(data)
        return cls(
            profile=CustomerProfile.model_validate(view.customer, from_attributes=True),
            scores=score,
            as_of=view.as_of,
            tier_history=[TierHistoryItem(as_of=d, tier=t) for d, t in view.tier_history],
        )


class RevealRequest(BaseModel):
    field: RevealableField
    reason: str = Field(min_length=4, max_length=400, description="why the clear value is needed (audited)")


class RevealResponse(BaseModel):
    customer_id: str
    field: RevealableField
    value: str | None
