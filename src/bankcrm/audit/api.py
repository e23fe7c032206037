"""Audit-log search for compliance and integrations holding an ``audit:read`` token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from bankcrm.audit import service
from bankcrm.audit.schemas import AuditEventPage, AuditEventRead
from bankcrm.web.deps import CurrentPrincipal, DbSession, Runtime

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/events", response_model=AuditEventPage)
def events(
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=40, description="exact, or a family ending in '.'")] = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditEventPage:
    """Newest first; needs ``audit.read``."""
    query = service.AuditQuery(actor, action, target_type, target_id, since, until, page, page_size)
    found = service.search_for(db, principal, query, seal_first=runtime.flush_audit)
    return AuditEventPage(items=[AuditEventRead.of(e) for e in found], page=page, page_size=page_size)
