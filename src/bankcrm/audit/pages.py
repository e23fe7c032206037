"""Compliance pages: audit-log search and the reveal history."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from bankcrm.audit import service
from bankcrm.audit.schemas import AuditEventRead
from bankcrm.web.deps import CurrentPrincipal, DbSession, Runtime
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


def _day_start(day: str | None, tz: ZoneInfo, *, plus_days: int = 0) -> datetime | None:
    """The start of a calendar day in the bank's time zone (a bad date is ignored)."""
    try:
        parsed = date.fromisoformat(day) if day else None
    except ValueError:
        return None
    return None if parsed is None else datetime.combine(parsed + timedelta(days=plus_days), time(), tz)


@router.get("/compliance/audit", name="compliance_audit")
def audit_search(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=10, description="first day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, Query(max_length=10, description="last day, YYYY-MM-DD")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    tz = ZoneInfo(runtime.settings.timezone)
    query = service.AuditQuery(
        actor, action, target_type, target_id, _day_start(since, tz), _day_start(until, tz, plus_days=1), page
    )
    found = service.search_for(db, principal, query, seal_first=runtime.flush_audit)
    events = [AuditEventRead.of(e) for e in found]
    reveals = [AuditEventRead.of(e) for e in service.reveal_history(db, principal)]
    form = {"actor": actor, "action": action, "target_type": target_type, "target_id": target_id}
    form |= {"since": since, "until": until}
    kept = {k: v for k, v in form.items() if v}
    return render(
        request,
        "audit/search.html",
        {
            "events": events,
            "reveals": reveals,
            "form": form,
            "page": page,
            "prev_url": "?" + urlencode({**kept, "page": page - 1}) if page > 1 else None,
            "next_url": "?" + urlencode({**kept, "page": page + 1}) if len(events) == query.page_size else None,
        },
        principal=principal,
    )
