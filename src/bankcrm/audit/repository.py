"""All queries on the audit log. Recording takes no lock; sealers serialise on the chain-head row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from bankcrm.audit.models import AuditChainHead, AuditEvent, AuditPending

HEAD_ID = 1
HEAD: Table = AuditChainHead.__table__  # type: ignore[assignment]
EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
PENDING: Table = AuditPending.__table__  # type: ignore[assignment]


class ChainHeadMissing(Exception):
    """The chain-head row is gone: the log cannot be appended to or verified."""


_INSERT_PENDING = insert(PENDING)  # built once: every audited request runs it


def insert_pending(session: Session, values: dict[str, Any]) -> int:
    """One recorded event, not yet chained; returns its pending id. Takes no lock."""
    result = session.execute(_INSERT_PENDING, values)
    return int(result.inserted_primary_key[0])  # type: ignore[attr-defined]


def lock_head_for_sealing(conn: Connection, *, wait: bool = False) -> Row[Any, Any] | None:
    """Lock the chain head for a sealer: its ``last_seq`` and ``last_hash``, or None when another holds it.

    PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``, so a sealer that finds the head taken
    returns at once instead of queueing behind the one at work; with ``wait`` a plain ``FOR
    UPDATE`` that waits for it to commit. SQLite has no row locks: a no-op UPDATE takes the
    database write lock (waiting for the busy timeout), as every writer does.
    """
    if conn.dialect.name == "postgresql":
        head = select(HEAD.c.last_seq, HEAD.c.last_hash).where(HEAD.c.id == HEAD_ID)
        row = conn.execute(head.with_for_update(skip_locked=not wait)).one_or_none()
        if row is None and not wait and conn.execute(select(HEAD.c.id).where(HEAD.c.id == HEAD_ID)).first() is not None:
            return None
    else:
        row = conn.execute(
            update(HEAD)
            .where(HEAD.c.id == HEAD_ID)
            .values(last_seq=HEAD.c.last_seq)
            .returning(HEAD.c.last_seq, HEAD.c.last_hash)
        ).one_or_none()
    if row is None:
        raise ChainHeadMissing("the audit chain head row is missing")
    return row


def pending_batch(conn: Connection, limit: int) -> Sequence[Row[Any]]:
    """The oldest committed pending events, in id order."""
    return conn.execute(select(PENDING).order_by(PENDING.c.id).limit(limit)).all()


def has_pending(conn: Connection) -> bool:
    return conn.execute(select(PENDING.c.id).limit(1)).first() is not None


def count_pending(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(PENDING)) or 0)


def delete_pending(conn: Connection, ids: Sequence[int]) -> None:
    conn.execute(delete(PENDING).where(PENDING.c.id.in_(ids)))


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(EVENTS), list(rows))


def advance_head(conn: Connection, seq: int, digest: str, now: datetime) -> None:
    """Move the (locked) chain head to the last event appended."""
    conn.execute(update(HEAD).where(HEAD.c.id == HEAD_ID).values(last_seq=seq, last_hash=digest, updated_at=now))


def get_head(session: Session) -> AuditChainHead | None:
    # populate_existing: the head moves under Core statements (sealing) the identity map does not see
    return session.execute(
        select(AuditChainHead).where(AuditChainHead.id == HEAD_ID).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def lock_head(session: Session) -> AuditChainHead:
    """The chain head, locked for the rest of the transaction, waiting for a sealer at work.

    A no-op UPDATE takes the lock on both backends. Used by purge, which then seals what is
    pending and appends its own event in the same transaction.
    """
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
