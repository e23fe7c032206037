"""Team and branch views as JSON: RM workload, the team's customers, reassignment and its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from bankcrm.assignments import service
from bankcrm.assignments.schemas import AssignmentRead, Reassignment, RmWorkload, TeamCustomerPage
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime

router = APIRouter(tags=["team"])


@router.get("/team/workload", response_model=list[RmWorkload])
def workload(db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> list[RmWorkload]:
    """Customers, VIPs and AUM under management of each RM in the caller's team or branch; audited."""
    return service.rm_workload(db, principal, actor=actor)


@router.get("/team/customers", response_model=TeamCustomerPage)
def team_customers(
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    rm_id: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
) -> TeamCustomerPage:
    """The team's (or branch's) customers, largest AUM first, masked; audited."""
    return service.team_customers(
        db, principal, actor=actor, masker=runtime.masker, rm_id=rm_id, page=page, page_size=page_size
    )


@router.post("/team/reassignments", response_model=list[AssignmentRead], status_code=201)
def reassign(
    body: Reassignment, db: DbSession, runtime: Runtime, principal: CurrentPrincipal, actor: RequestActor
) -> list[AssignmentRead]:
    """Move customers to another RM of the team (team lead) or branch (branch manager), with a reason."""
    try:
        return service.reassign_customers(db, principal, body, actor=actor, clock=runtime.clock)
    except service.ReassignmentError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/customers/{customer_id}/assignments", response_model=list[AssignmentRead])
def assignment_history(
    customer_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor
) -> list[AssignmentRead]:
    """Earlier relationship managers of the customer, newest change first; audited."""
    return service.assignment_history(db, principal, customer_id, actor=actor)
