"""Reassigning customers and the team and branch views of workload, through a principal.

A team lead moves customers of the team to an RM of the same team; a branch manager moves
customers of the branch to an RM of the same branch (SPEC section 1). Both need
``customer.reassign``; a customer outside the principal's scope, or a target RM outside its
team or branch, is ``NotFound``, exactly like a missing one. Each move is a
``customer_assignments`` row and a ``change`` audit event with the RM before and after and
the reason; a batch is all or nothing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from bankcrm.assignments import repository as repo
from bankcrm.assignments.schemas import (
    AssignmentRead,
    Reassignment,
    RmWorkload,
    TeamCustomer,
    TeamCustomerPage,
)
from bankcrm.audit.service import Actor, AuditAction, record, record_change
from bankcrm.customers import repository as customers_repo
from bankcrm.customers.models import CustomerAssignment
from bankcrm.scores import repository as scores_repo
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import NotFound, Permission, Principal, require
from bankcrm.staff.models import Staff

MAX_PAGE_SIZE = 100


class ReassignmentError(ValueError):
    """A reassignment that cannot be done as asked (the web layer answers 422)."""


def _scope_of_books(principal: Principal) -> tuple[str | None, str | None]:
    """(team_id, branch_id) whose staff the principal may hand customers to."""
    if principal.role == "team_lead":
        return principal.team_id, None
    if principal.role == "branch_manager":
        return None, principal.branch_id
    return None, None


def assignable_rms(session: Session, principal: Principal) -> list[Staff]:
    """The RMs the principal may move customers to (its team, or its branch)."""
    require(principal, Permission.CUSTOMER_REASSIGN)
    team_id, branch_id = _scope_of_books(principal)
    return repo.assignable_staff(session, team_id=team_id, branch_id=branch_id)


def reassign_customers(
    session: Session,
    principal: Principal,
    request: Reassignment,
    *,
    actor: Actor,
    clock: Clock = system_clock,
) -> list[AssignmentRead]:
    """Move the customers to ``to_rm_id``; customers already with that RM are left alone (no history row)."""
    require(principal, Permission.CUSTOMER_REASSIGN)
    targets = {s.staff_id for s in assignable_rms(session, principal)}
    if request.to_rm_id not in targets:
        raise NotFound("staff")
    wanted = list(dict.fromkeys(request.customer_ids))
    customers = {c.customer_id: c for c in repo.customers_in_scope(session, principal, wanted)}
    missing = [cid for cid in wanted if cid not in customers]
    if missing:
        raise NotFound("customer")
    now = clock()
    moved: list[CustomerAssignment] = []
    for cid in wanted:
        customer = customers[cid]
        if customer.rm_id == request.to_rm_id:
            continue
        row = CustomerAssignment(
            customer_id=cid,
            from_rm_id=customer.rm_id,
            to_rm_id=request.to_rm_id,
            reason=request.reason,
            changed_by=principal.staff_id or principal.username,
            changed_at=now,
        )
        repo.add_assignment(session, row)
        customer.rm_id = request.to_rm_id
        customer.updated_at = now
        moved.append(row)
    if not moved:
        raise ReassignmentError("every customer is already with that relationship manager")
    session.flush()
    for row in moved:
        record_change(
            session,
            actor,
            target_type="customer",
            target_id=row.customer_id,
            before={"rm_id": row.from_rm_id},
            after={"rm_id": row.to_rm_id},
            extra={"reason": request.reason, "assignment_id": row.id},
            clock=clock,
        )
    return [AssignmentRead.model_validate(r) for r in moved]


def assignment_history(
    session: Session, principal: Principal, customer_id: str, *, actor: Actor, limit: int = 50
) -> list[AssignmentRead]:
    """Earlier RMs of a customer in scope, newest change first; audited as a view."""
    require(principal, Permission.CUSTOMER_READ)
    if customers_repo.get_in_scope(session, principal, customer_id) is None:
        raise NotFound("customer")
    rows = [AssignmentRead.model_validate(r) for r in repo.history_of(session, customer_id, limit=limit)]
    record(
        session,
        actor,
        AuditAction.CUSTOMER_VIEW,
        target_type="customer",
        target_id=customer_id,
        details={"section": "assignments"},
    )
    return rows


def _cents(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def rm_workload(session: Session, principal: Principal, *, actor: Actor) -> list[RmWorkload]:
    """Each RM of the principal's team (team lead) or branch (branch manager): customers, VIPs, AUM, load."""
    staff = assignable_rms(session, principal)
    run_id = scores_repo.current_run_id(session)
    counts = repo.workload(session, [s.staff_id for s in staff])
    rows = []
    for s in staff:
        n, vip, aum = counts.get(s.staff_id, (0, 0, 0.0))
        rows.append(
            RmWorkload(
                staff_id=s.staff_id,
                name=s.name,
                team_id=s.team_id,
                level=s.level,
                capacity=s.capacity,
                customers=n,
                vip_customers=vip,
                aum=_cents(aum) or Decimal("0.00"),
                load=round(n / s.capacity, 3) if s.capacity else None,
            )
        )
    record(
        session,
        actor,
        AuditAction.CUSTOMER_LIST,
        target_type="staff",
        details={"view": "workload", "rms": len(rows), "run_id": run_id},
    )
    return rows


def team_customers(
    session: Session,
    principal: Principal,
    *,
    actor: Actor,
    masker: Masker,
    rm_id: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> TeamCustomerPage:
    """The customers of the principal's team or branch (optionally one RM's), largest AUM first, masked; audited."""
    require(principal, Permission.CUSTOMER_REASSIGN)
    page = max(page, 1)
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    found, total = repo.customers_page(session, principal, rm_id=rm_id, offset=(page - 1) * page_size, limit=page_size)
    items = [
        TeamCustomer(
            customer_id=c.customer_id,
            name=masker.mask("name", c.name),
            rm_id=c.rm_id,
            tier=c.published_tier,
            segment=c.published_segment,
            aum_avg_30d=_cents(c.published_aum_avg_30d),
        )
        for c in found
    ]
    record(
        session,
        actor,
        AuditAction.CUSTOMER_LIST,
        target_type="customer",
        details={"view": "team_customers", "rm_id": rm_id, "page": page, "results": total},
    )
    return TeamCustomerPage(items=items, total=total, page=page, page_size=page_size)
