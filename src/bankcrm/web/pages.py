"""The home page: the RM workbench (today's tasks, my customers) or the role's start page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from bankcrm.customers import service as customers
from bankcrm.security.permissions import Permission
from bankcrm.tasks import cadence, work_service
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime, Tr
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", name="workbench")
def workbench(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    tr: Tr,
    tier: str | None = None,
    segment: str | None = None,
    value_class: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sort: str = "value_index",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    maturing: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    """My customers with filters, search, sort and pages; roles without customer rows get their start page."""
    context: dict[str, Any] = {
        # TODAY'S TASKS: the maintenance task engine (src/bankcrm/tasks/) puts its panel here; the
        # template includes "tasks/_today.html" when that template exists, with this value in context.
        "todays_tasks": (
            work_service.list_tasks(db, principal, work_service.TaskQuery(page_size=10), clock=runtime.clock, tz=tr.tz)
            if principal.can(Permission.TASK_WORK)
            else None
        ),
        # the RM's own contact-plan coverage (SPEC 5.1); team and branch figures are on the reports
        "contact_coverage": (
            cadence.cadence_report(db, principal=principal, by="rm").summary() if principal.role == "rm" else None
        ),
    }
    if principal.can(Permission.CUSTOMER_READ):
        days = next((d for d in customers.MATURITY_CHOICES if maturing == str(d)), None)
        query = customers.CustomerQuery(
            tier or None, segment or None, value_class or None, q, sort, page, maturing_within_days=days
        )
        today = runtime.clock().astimezone(tr.tz).date()
        result = customers.list_customers(
            db, principal, query, actor=actor, cipher=runtime.cipher, masker=runtime.masker, today=today
        )
        filters = {
            "tier": query.tier,
            "segment": query.segment,
            "value_class": query.value_class,
            "maturing": days,
            "q": q,
        }
        filters = {k: v for k, v in filters.items() if v}

        def page_url(n: int) -> str:
            return "/?" + urlencode({**filters, "sort": query.sort, "page": n})

        def sort_url(key: str) -> str:
            return "/?" + urlencode({**filters, "sort": key})

        context.update(
            result=result,
            query=query,
            page_url=page_url,
            sort_url=sort_url,
            tiers=customers.TIERS,
            segments=customers.SEGMENTS,
            value_classes=customers.VALUE_CLASSES,
            maturity_choices=customers.MATURITY_CHOICES,
        )
    return render(request, "workbench.html", context, principal=principal)
