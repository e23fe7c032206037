"""All queries of reassignment and workload."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from bankcrm.customers.models import Customer, CustomerAssignment
from bankcrm.scores.models import CustomerScore
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


def workload(session: Session, staff_ids: Sequence[str], run_id: int | None) -> dict[str, tuple[int, int, float]]:
    """Per RM: (customers, VIP customers, Σ aum_avg_30d) in the run."""
    on_run = and_(CustomerScore.customer_id == Customer.customer_id, CustomerScore.run_id == (run_id or -1))
    stmt = (
        select(
            Customer.rm_id,
            func.count(),
            func.sum(case((CustomerScore.tier == "vip", 1), else_=0)),
            func.sum(CustomerScore.aum_avg_30d),
        )
        .outerjoin(CustomerScore, on_run)
        .where(Customer.rm_id.in_(list(staff_ids)))
        .group_by(Customer.rm_id)
    )
    return {rm: (int(n), int(vip or 0), float(aum or 0.0)) for rm, n, vip, aum in session.execute(stmt).all()}


def customers_page(
    session: Session,
    principal: Principal,
    *,
    rm_id: str | None,
    run_id: int | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Customer, CustomerScore | None]], int]:
    """The principal's customers (optionally one RM's), largest AUM first, with their current scores."""
    conditions: list[ColumnElement[bool]] = [customer_scope_filter(principal)]
    if rm_id is not None:
        conditions.append(Customer.rm_id == rm_id)
    on_run = and_(CustomerScore.customer_id == Customer.customer_id, CustomerScore.run_id == (run_id or -1))
    total = session.scalar(select(func.count()).select_from(Customer).where(*conditions)) or 0
    stmt = (
        select(Customer, CustomerScore)
        .outerjoin(CustomerScore, on_run)
        .where(*conditions)
        .order_by(CustomerScore.aum_avg_30d.desc().nulls_last(), Customer.customer_id)
        .offset(offset)
        .limit(limit)
    )
    return [(c, s) for c, s in session.execute(stmt).all()], int(total)
