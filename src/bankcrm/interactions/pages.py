"""Logging a contact from the 360 page's form (then back to the page)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from bankcrm.interactions import service
from bankcrm.interactions.schemas import InteractionCreate
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime
from bankcrm.web.errors import error_response

router = APIRouter(include_in_schema=False)


def _local_datetime(value: str, timezone: str) -> datetime | None:
    """A ``datetime-local`` form value, read in the bank's time zone."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(timezone))


@router.post("/customers/{customer_id}/interactions", name="log_interaction")
def log_interaction(
    request: Request,
    customer_id: str,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    channel: Annotated[str, Form(max_length=20)] = "",
    purpose: Annotated[str, Form(max_length=20)] = "",
    occurred_at: Annotated[str, Form(max_length=40)] = "",
    notes: Annotated[str, Form(max_length=4000)] = "",
    next_step: Annotated[str, Form(max_length=400)] = "",
    next_step_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        data = InteractionCreate(
            channel=channel,
            purpose=purpose,
            occurred_at=_local_datetime(occurred_at, runtime.settings.timezone),
            notes=notes,
            next_step=next_step,
            next_step_on=date.fromisoformat(next_step_on) if next_step_on else None,
        )
        service.log_interaction(db, principal, customer_id, data, actor=actor, clock=runtime.clock)
    except (ValidationError, ValueError):
        # ValueError covers InteractionError and unreadable dates; permission and scope errors pass through
        return error_response(request, 400, "The contact could not be logged: check the channel, purpose and dates")
    return RedirectResponse(f"/customers/{customer_id}#interactions", status_code=303)
