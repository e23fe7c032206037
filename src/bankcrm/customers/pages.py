"""Customer pages: the 360 view and the reveal of one field (shown for that one page view only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse

from bankcrm.audit.service import AuditError
from bankcrm.customers import service
from bankcrm.customers.sections import as_context, sections_of
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    view: service.Customer360,
    principal: CurrentPrincipal,
    *,
    revealed: dict[str, str | None] | None = None,
    reveal_error: str | None = None,
    status_code: int = 200,
    sections: dict[str, object] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "customers/detail.html",
        {
            "view": view,
            "c": view.customer,
            "score": view.score,
            "revealed": revealed or {},
            "reveal_error": reveal_error,
            "revealable": tuple(service.REVEALABLE),
            **(sections or {}),
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/customers/{customer_id}", name="customer_360")
def customer_360(
    request: Request,
    customer_id: str,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> HTMLResponse:
    view = service.customer_360(db, principal, customer_id, actor=actor, cipher=runtime.cipher, masker=runtime.masker)
    extra = as_context(sections_of(db, principal, customer_id, cipher=runtime.cipher, masker=runtime.masker))
    return _page(request, view, principal, sections=extra)


@router.post("/customers/{customer_id}/reveal", name="customer_reveal")
def reveal(
    request: Request,
    customer_id: str,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    field: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=400)] = "",
) -> HTMLResponse:
    """The 360 page with one field in clear; the value is never stored in the session or a cookie."""
    revealed: dict[str, str | None] = {}
    error = None
    if field not in service.REVEALABLE:
        error = "Choose a field to reveal"
    else:
        try:
            revealed[field] = service.reveal_field(
                db, principal, customer_id, field, reason=reason, actor=actor, cipher=runtime.cipher
            )
        except AuditError:
            error = "A reveal needs a stated reason (at least 4 characters)"
    view = service.customer_360(db, principal, customer_id, actor=actor, cipher=runtime.cipher, masker=runtime.masker)
    extra = as_context(sections_of(db, principal, customer_id, cipher=runtime.cipher, masker=runtime.masker))
    status = 400 if error else 200
    return _page(request, view, principal, revealed=revealed, reveal_error=error, status_code=status, sections=extra)
