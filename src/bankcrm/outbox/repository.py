"""Every query of the outbox and the contact policy.

Locking, so that two dispatchers (or a dispatcher and a consent change) cannot both pass the
caps for one customer: the per-message send step first updates its own message row (on SQLite
the first write takes the database's write lock for the rest of the transaction), then locks the
customer row (PostgreSQL ``SELECT … FOR UPDATE``). A consent change locks the customer first
and skips message rows a dispatcher holds; that dispatcher re-reads the consent after it gets
the customer lock, so the withdrawal still wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bankcrm.customers.models import ConsentEvent, Customer, Interaction
from bankcrm.outbox.models import CLAIMABLE_STATUSES, TOUCH_STATUSES, DeliveryAttempt, OutboxMessage
from bankcrm.tasks.models import Rule, Task, TaskEvent

MARKETING_PURPOSE = "marketing"


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- customers and consent -------------------------------------------------------------------


def get_customer(session: Session, customer_id: str, *, lock: bool = False) -> Customer | None:
    stmt = select(Customer).where(Customer.customer_id == customer_id)
    if lock and _is_postgres(session):
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def customers_by_id(session: Session, ids: Sequence[str]) -> dict[str, Customer]:
    if not ids:
        return {}
    rows = session.scalars(select(Customer).where(Customer.customer_id.in_(set(ids))))
    return {c.customer_id: c for c in rows}


def add_consent_event(session: Session, event: ConsentEvent) -> None:
    session.add(event)
    session.flush()


def consent_history(session: Session, customer_id: str) -> Sequence[ConsentEvent]:
    return session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.customer_id == customer_id)
        .order_by(ConsentEvent.recorded_at, ConsentEvent.id)
    ).all()


def marketing_touch_times(
    session: Session, customer_id: str, *, since: datetime, until: datetime, exclude_message_id: int | None = None
) -> list[datetime]:
    """Marketing touches in (since, until]: messages handed to a gateway and marketing interactions."""
    msg = select(OutboxMessage.touched_at).where(
        OutboxMessage.customer_id == customer_id,
        OutboxMessage.marketing.is_(True),
        OutboxMessage.status.in_(TOUCH_STATUSES),
        OutboxMessage.touched_at > since,
        OutboxMessage.touched_at <= until,
    )
    if exclude_message_id is not None:
        msg = msg.where(OutboxMessage.id != exclude_message_id)
    times = [t for t in session.scalars(msg) if t is not None]
    times += list(
        session.scalars(
            select(Interaction.occurred_at).where(
                Interaction.customer_id == customer_id,
                Interaction.purpose == MARKETING_PURPOSE,
                Interaction.occurred_at > since,
                Interaction.occurred_at <= until,
            )
        )
    )
    return times


def marketing_touch_times_by_customer(
    session: Session, customer_ids: Sequence[str], *, since: datetime, until: datetime
) -> dict[str, list[datetime]]:
    """``marketing_touch_times`` for many customers at once (one query per source)."""
    out: dict[str, list[datetime]] = {}
    if not customer_ids:
        return out
    msg = select(OutboxMessage.customer_id, OutboxMessage.touched_at).where(
        OutboxMessage.customer_id.in_(customer_ids),
        OutboxMessage.marketing.is_(True),
        OutboxMessage.status.in_(TOUCH_STATUSES),
        OutboxMessage.touched_at > since,
        OutboxMessage.touched_at <= until,
    )
    calls = select(Interaction.customer_id, Interaction.occurred_at).where(
        Interaction.customer_id.in_(customer_ids),
        Interaction.purpose == MARKETING_PURPOSE,
        Interaction.occurred_at > since,
        Interaction.occurred_at <= until,
    )
    for stmt in (msg, calls):
        for customer_id, at in session.execute(stmt):
            if at is not None:
                out.setdefault(customer_id, []).append(at)
    return out


# --- tasks -----------------------------------------------------------------------------------


def message_tasks_to_enqueue(session: Session, *, limit: int | None = None) -> Sequence[Task]:
    """Open tasks of kind 'message' that have no outbox message yet, oldest first."""
    stmt = (
        select(Task)
        .where(
            Task.kind == "message",
            Task.status == "open",
            ~exists().where(OutboxMessage.task_id == Task.task_id),
        )
        .order_by(Task.task_id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.scalars(stmt).all()


def rules_by_id(session: Session, ids: Sequence[str]) -> dict[str, Rule]:
    if not ids:
        return {}
    return {r.rule_id: r for r in session.scalars(select(Rule).where(Rule.rule_id.in_(set(ids))))}


def get_task(session: Session, task_id: int) -> Task | None:
    return session.get(Task, task_id)


def close_task(session: Session, task: Task, *, status: str, outcome: str, at: datetime, actor: str) -> None:
    """Close an open item (done or cancelled); frees its one-open-item key."""
    task.status = status
    task.outcome = outcome
    task.closed_at = at
    task.closed_by = actor
    task.open_key = None
    session.add(TaskEvent(task_id=task.task_id, at=at, actor=actor, action=status, detail_json="{}"))


# --- messages --------------------------------------------------------------------------------


def add_message(session: Session, message: OutboxMessage) -> OutboxMessage:
    session.add(message)
    session.flush()
    return message


def get_message(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id, populate_existing=True)


def list_messages(
    session: Session, *, customer_id: str | None = None, status: str | None = None
) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if customer_id is not None:
        stmt = stmt.where(OutboxMessage.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return list(session.scalars(stmt))


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: int(n) for status, n in rows}


def unsent_marketing_message_ids(session: Session, customer_id: str) -> list[int]:
    """Marketing messages of the customer not yet handed over; on PostgreSQL skips rows a dispatcher holds."""
    stmt = select(OutboxMessage.id).where(
        OutboxMessage.customer_id == customer_id,
        OutboxMessage.marketing.is_(True),
        OutboxMessage.status.in_(CLAIMABLE_STATUSES),
    )
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def _claimable(now: datetime, lease_cutoff: datetime) -> ColumnElement[bool]:
    """Due and unclaimed (or its lease ran out), or left 'sending' by a worker whose lease ran out."""
    return or_(
        and_(
            OutboxMessage.status.in_(CLAIMABLE_STATUSES),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.claimed_at < lease_cutoff),
        ),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < lease_cutoff),
    )


def claim_due(session: Session, *, worker: str, now: datetime, lease_cutoff: datetime, limit: int) -> list[int]:
    """Lease up to ``limit`` due messages to ``worker``.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers take disjoint rows.
    SQLite: a conditional UPDATE that re-checks the claimable condition under the write lock,
    then the rows that now carry this worker's name and claim time.
    """
    cond = _claimable(now, lease_cutoff)
    candidates = select(OutboxMessage.id).where(cond).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    candidates = candidates.limit(limit)
    if _is_postgres(session):
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), cond)
        .values(claimed_by=worker, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker, OutboxMessage.claimed_at == now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        )
    )


def renew_claim(session: Session, message_id: int, *, worker: str, now: datetime) -> bool:
    """Refresh this worker's lease; False when another worker took the message over."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == worker)
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_attempt(session: Session, attempt: DeliveryAttempt) -> DeliveryAttempt:
    session.add(attempt)
    session.flush()
    return attempt


def open_attempt(session: Session, message_id: int) -> DeliveryAttempt | None:
    """The latest attempt still marked 'sending' (a send whose result was never recorded)."""
    return session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.message_id == message_id, DeliveryAttempt.outcome == "sending")
        .order_by(DeliveryAttempt.id.desc())
        .limit(1)
    ).one_or_none()


def attempts_of(session: Session, message_id: int) -> list[DeliveryAttempt]:
    return list(
        session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.id)
        )
    )
