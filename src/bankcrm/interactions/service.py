"""Logging a contact with a customer and reading the timeline, through a principal.

Logging needs ``interaction.write`` and the customer in scope; reading needs
``customer.read``. Out-of-scope customers are ``NotFound``. Logging is audited as
``interaction.create`` with the channel and purpose (the notes stay out of the audit log: they
may hold whatever the customer said); a timeline page is audited as a ``customer.view``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.customers import repository as customers_repo
from bankcrm.customers.models import Interaction
from bankcrm.interactions import repository as repo
from bankcrm.interactions.schemas import InteractionCreate, InteractionPage, InteractionRead
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.permissions import NotFound, Permission, Principal, require

INTERACTION_CREATE = "interaction.create"
MAX_PAGE_SIZE = 100
# a phone's clock may run a little ahead of the server's
FUTURE_TOLERANCE = timedelta(minutes=5)


class InteractionError(ValueError):
    """A contact that cannot be logged as given (the web layer answers 422)."""


def _in_scope(session: Session, principal: Principal, customer_id: str) -> None:
    if customers_repo.get_in_scope(session, principal, customer_id) is None:
        raise NotFound("customer")


def log_interaction(
    session: Session,
    principal: Principal,
    customer_id: str,
    data: InteractionCreate,
    *,
    actor: Actor,
    clock: Clock = system_clock,
) -> InteractionRead:
    """Record a visit, call, WeCom message, SMS or e-mail with a customer in scope; audited."""
    require(principal, Permission.INTERACTION_WRITE)
    _in_scope(session, principal, customer_id)
    now = clock()
    occurred_at = data.occurred_at or now
    if occurred_at > now + FUTURE_TOLERANCE:
        raise InteractionError("occurred_at lies in the future")
    if data.next_step_on is not None and data.next_step_on < occurred_at.date() - timedelta(days=1):
        raise InteractionError("next_step_on lies before the contact itself")
    if data.next_step_on is not None and not data.next_step:
        raise InteractionError("a next-step date needs the next step")
    row = repo.add(
        session,
        Interaction(
            customer_id=customer_id,
            staff_id=principal.staff_id,
            user_id=principal.user_id,
            channel=data.channel,
            purpose=data.purpose,
            occurred_at=occurred_at,
            notes=data.notes,
            next_step=data.next_step,
            next_step_on=data.next_step_on,
            task_id=data.task_id,
            created_at=now,
        ),
    )
    record(
        session,
        actor,
        INTERACTION_CREATE,
        target_type="customer",
        target_id=customer_id,
        details={
            "interaction_id": row.id,
            "channel": row.channel,
            "purpose": row.purpose,
            "occurred_at": occurred_at.isoformat(),
            "next_step_on": data.next_step_on.isoformat() if data.next_step_on else None,
        },
        clock=clock,
    )
    return InteractionRead.model_validate(row)


def timeline_of(
    session: Session, customer_id: str, *, limit: int = 20, before_id: int | None = None
) -> InteractionPage:
    """A page of the timeline, newest first (unchecked: callers check scope and audit)."""
    limit = min(max(limit, 1), MAX_PAGE_SIZE)
    cursor = None
    if before_id is not None:
        anchor = repo.get(session, customer_id, before_id)
        if anchor is None:
            return InteractionPage(items=[], next_before_id=None)
        cursor = (anchor.occurred_at, anchor.id)
    rows = repo.timeline(session, customer_id, limit=limit + 1, before=cursor)
    items = [InteractionRead.model_validate(r) for r in rows[:limit]]
    return InteractionPage(items=items, next_before_id=items[-1].id if len(rows) > limit else None)


def list_interactions(
    session: Session,
    principal: Principal,
    customer_id: str,
    *,
    actor: Actor,
    limit: int = 20,
    before_id: int | None = None,
) -> InteractionPage:
    """The timeline of a customer in scope, newest first, audited as a view of its interactions."""
    require(principal, Permission.CUSTOMER_READ)
    _in_scope(session, principal, customer_id)
    page = timeline_of(session, customer_id, limit=limit, before_id=before_id)
    record(
        session,
        actor,
        AuditAction.CUSTOMER_VIEW,
        target_type="customer",
        target_id=customer_id,
        details={"section": "interactions", "before_id": before_id},
    )
    return page
