"""The interactions timeline and logging a contact, as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from bankcrm.interactions import service
from bankcrm.interactions.schemas import InteractionCreate, InteractionPage, InteractionRead
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime

router = APIRouter(prefix="/customers", tags=["interactions"])


@router.get("/{customer_id}/interactions", response_model=InteractionPage)
def timeline(
    customer_id: str,
    db: DbSession,
    principal: CurrentPrincipal,
    actor: RequestActor,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 20,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> InteractionPage:
    """Logged contacts, newest first; pass ``next_before_id`` as ``before_id`` for older ones. Audited."""
    return service.list_interactions(db, principal, customer_id, actor=actor, limit=limit, before_id=before_id)


@router.post("/{customer_id}/interactions", response_model=InteractionRead, status_code=201)
def log_interaction(
    customer_id: str,
    body: InteractionCreate,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> InteractionRead:
    """Log a visit, call, WeCom message, SMS or e-mail with notes and the next step; audited."""
    try:
        return service.log_interaction(db, principal, customer_id, body, actor=actor, clock=runtime.clock)
    except service.InteractionError as exc:
        raise HTTPException(422, str(exc)) from exc
