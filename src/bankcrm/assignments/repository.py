"""All queries of reassignment and workload."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from bankcrm.customers.models import Customer, CustomerAssignment
from bankcrm.security.permissions import Principal, customer_scope_filter
from bankcrm.staff.models import Staff

# roles that can hold a book of customers
BOOK_ROLES = ("rm", "team_lead")


def assignable_staff(session: Session, *, team_id: str | None, branch_id: str | None) -> list[Staff]:
    """Active staff who can hold customers, in the team (when given) or else the branch; none without either."""
    if team_id is None and branch_id is None:
        return []
    condition = Staff.team_id == team_id if team_id is not None else Staff.branch_id == branch_id
    stmt = select(Staff).where(condition, Staff.active.is_(True), Staff.role.in_(BOOK_ROLES)).order_by(Staff.staff_id)
    return list(session.scalars(stmt).all())


def customers_in_scope(session: Session, principal: Principal, customer_ids: Sequence[str]) -> list[Customer]:
    stmt = (
        select(Customer)
        .where(Customer.customer_id.in_(list(customer_ids)), customer_scope_filter(principal))
        .with_for_update()
    )
    return list(session.scalars(stmt).all())


def add_assignment(session: Session, row: CustomerAssignment) -> None:
    session.add(row)


def history_of(session: Session, customer_id: str, *, limit: int) -> list[CustomerAssignment]:
    stmt = (
        select(CustomerAssignment)
        .where(CustomerAssignment.customer_id == customer_id)
        .order_by(CustomerAssignment.changed_at.desc(), CustomerAssignment.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


def workload(session: Session, staff_ids: Sequence[str]) -> dict[str, tuple[int, int, float]]:
    """Per RM: (customers, VIP customers, Σ aum_avg_30d) in the current published run."""
    stmt = (
        select(
            Customer.rm_id,
            func.count(),
            func.sum(case((Customer.published_tier == "vip", 1), else_=0)),
            func.sum(Customer.published_aum_avg_30d),
        )
        .where(Customer.rm_id.in_(list(staff_ids)))
        .group_by(Customer.rm_id)
    )
    return {rm: (int(n), int(vip or 0), float(aum or 0.0)) for rm, n, vip, aum in session.execute(stmt).all()}


def customers_page(
    session: Session, principal: Principal, *, rm_id: str | None, offset: int, limit: int
) -> tuple[list[Customer], int]:
    """The principal's customers (optionally one RM's), largest AUM in the current run first."""
    conditions: list[ColumnElement[bool]] = [customer_scope_filter(principal)]
    if rm_id is not None:
        conditions.append(Customer.rm_id == rm_id)
    total = session.scalar(select(func.count()).select_from(Customer).where(*conditions)) or 0
    stmt = (
        select(Customer)
        .where(*conditions)
        .order_by(Customer.published_aum_avg_30d.desc().nulls_last(), Customer.customer_id)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(stmt).all()), int(total)
