"""The team page of team leads and branch managers: workload, the team's customers, reassignment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bankcrm.assignments import service
from bankcrm.assignments.schemas import Reassignment
from bankcrm.customers.sections import label
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime
from bankcrm.web.errors import error_response
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/team", name="team")
def team(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    rm: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    moved: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> HTMLResponse:
    workload = service.rm_workload(db, principal, actor=actor)
    customers = service.team_customers(
        db, principal, actor=actor, masker=runtime.masker, rm_id=rm or None, page=page, page_size=50
    )
    return render(
        request,
        "assignments/team.html",
        {
            "workload": workload,
            "customers": customers,
            "rms": service.assignable_rms(db, principal),
            "rm_filter": rm or None,
            "moved": moved,
            "label": label,
        },
        principal=principal,
    )


@router.post("/team/reassign", name="team_reassign")
def reassign(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    customer_ids: Annotated[list[str] | None, Form()] = None,
    to_rm_id: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        request_ = Reassignment(customer_ids=customer_ids or [], to_rm_id=to_rm_id, reason=reason)
        moved = service.reassign_customers(db, principal, request_, actor=actor, clock=runtime.clock)
    except (ValidationError, service.ReassignmentError):
        return error_response(
            request, 400, "Nothing was reassigned: choose customers, another relationship manager and a reason"
        )
    return RedirectResponse(f"/team?moved={len(moved)}", status_code=303)
