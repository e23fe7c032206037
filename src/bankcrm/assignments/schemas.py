"""Reassignment requests and the shapes of the team and branch views."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

MAX_CUSTOMERS_PER_REASSIGNMENT = 500


class Reassignment(BaseModel):
    """Move customers to another relationship manager, with the reason."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    customer_ids: list[str] = Field(min_length=1, max_length=MAX_CUSTOMERS_PER_REASSIGNMENT)
    to_rm_id: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=4, max_length=400)


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    from_rm_id: str | None
    to_rm_id: str | None
    reason: str
    changed_by: str
    changed_at: datetime


class RmWorkload(BaseModel):
    """One relationship manager's book: customers, VIPs and AUM under management (current run)."""

    staff_id: str
    name: str
    team_id: str | None
    level: str | None
    capacity: int | None
    customers: int
    vip_customers: int
    aum: Decimal = Field(description="Σ aum_avg_30d of the RM's customers in the current run, CNY")
    load: float | None = Field(description="customers / capacity, when the capacity is known")


class TeamCustomer(BaseModel):
    """A customer row of the team and branch views (masked)."""

    customer_id: str
    name: str | None
    rm_id: str | None
    tier: str | None
    segment: str | None
    aum_avg_30d: Decimal | None


class TeamCustomerPage(BaseModel):
    items: list[TeamCustomer]
    total: int
    page: int
    page_size: int
