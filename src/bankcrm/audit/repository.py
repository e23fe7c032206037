"""All queries on the audit log. Writers serialise on the chain-head row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from bankcrm.audit.models import AuditChainHead, AuditEvent

HEAD_ID = 1


class ChainHeadMissing(Exception):
    """The chain-head row is gone: the log cannot be appended to or verified."""


def claim_next_seq(session: Session) -> tuple[int, str]:
    """Lock the chain head, take the next sequence number and return it with the previous hash.

    The UPDATE comes first on purpose: it takes PostgreSQL's row lock (held to commit, so
    writers queue up in order) and SQLite's write lock (a deferred transaction that only read
    so far could otherwise fail to upgrade), so two writers can never read the same head.
    """
    row = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_seq=AuditChainHead.last_seq + 1)
        .returning(AuditChainHead.last_seq, AuditChainHead.last_hash)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        raise ChainHeadMissing("the audit chain head row is missing")
    return int(row[0]), str(row[1])


def insert_event(session: Session, values: dict[str, Any]) -> None:
    session.execute(insert(AuditEvent).values(**values))


def set_head_hash(session: Session, seq: int, digest: str, now: datetime) -> None:
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID, AuditChainHead.last_seq == seq)
        .values(last_hash=digest, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def get_head(session: Session) -> AuditChainHead | None:
    return session.execute(select(AuditChainHead).where(AuditChainHead.id == HEAD_ID)).scalar_one_or_none()


def lock_head(session: Session) -> AuditChainHead:
    """The chain head, locked for the rest of the transaction (a no-op UPDATE takes the lock on both backends)."""
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_seq=AuditChainHead.last_seq)
        .execution_options(synchronize_session=False)
    )
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == HEAD_ID).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:
        raise ChainHeadMissing("the audit chain head row is missing")
    return head


def set_anchor(session: Session, seq: int, digest: str, now: datetime) -> None:
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(anchor_seq=seq, anchor_hash=digest, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def iter_events(session: Session, *, upto: int, batch: int = 5000) -> Iterator[Row[Any]]:
    """Events with seq <= ``upto`` in sequence order, read by keyset in batches (plain rows, not ORM objects)."""
    table = AuditEvent.__table__
    after: int | None = None
    while True:
        stmt = select(table).where(table.c.seq <= upto).order_by(table.c.seq).limit(batch)
        if after is not None:
            stmt = stmt.where(table.c.seq > after)
        rows = session.execute(stmt).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def get_event(session: Session, seq: int) -> AuditEvent | None:
    return session.get(AuditEvent, seq)


def search(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    limit: int = 50,
    until: datetime | None = None,
    offset: int = 0,
) -> Sequence[AuditEvent]:
    """Newest first; ``action`` ending in '.' matches a family (``login.``); ``until`` is exclusive."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action) if action.endswith(".") else AuditEvent.action == action)
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if target_type:
        stmt = stmt.where(AuditEvent.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditEvent.target_id == target_id)
    return session.scalars(stmt).all()


def last_seq_before(session: Session, cutoff: datetime) -> int | None:
    """The end of the leading run of events older than ``cutoff`` (a purge never leaves a hole)."""
    first_young = session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.occurred_at >= cutoff))
    stmt = select(func.max(AuditEvent.seq)).where(AuditEvent.occurred_at < cutoff)
    if first_young is not None:
        stmt = stmt.where(AuditEvent.seq < first_young)
    value = session.scalar(stmt)
    return int(value) if value is not None else None


def delete_through(session: Session, seq: int) -> int:
    result = session.execute(
        delete(AuditEvent).where(AuditEvent.seq <= seq).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
