"""Customer queries; every one that serves a person takes the principal and applies its record scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankcrm.customers.models import Customer
from bankcrm.security.permissions import Principal, customer_scope_filter


def get_in_scope(session: Session, principal: Principal, customer_id: str) -> Customer | None:
    """The customer when it exists and the principal may see it; None for missing and hidden alike."""
    stmt = select(Customer).where(Customer.customer_id == customer_id, customer_scope_filter(principal))
    return session.scalars(stmt).one_or_none()
