"""Writing, sealing, verifying and purging the hash-chained audit log.

Each event stores ``prev_hash`` and ``hash = SHA-256(prev_hash || canonical JSON of its content)``.

Writing happens in two steps, so requests never wait on each other to audit:

1. ``record`` inserts the event into ``audit_pending`` in the caller's transaction, taking no
   lock. Services record events and never commit: an action that rolls back leaves no event,
   and an event never exists without its action.
2. ``seal`` moves committed pending rows into ``audit_events`` in id order under the chain-head
   lock, assigning sequence numbers and hashes, so the chain stays linear however many
   processes write. Sessions made by ``db.engine.session_factory`` seal right after every
   commit that recorded an event (``install_seal_hook``), so an event is in ``audit_events``
   by the time the request or command that wrote it returns, or, when a concurrent sealer
   held the chain head at that moment, as soon as that sealer commits its next round. The
   web app on PostgreSQL hands that work to a background thread instead (``audit.sealer``),
   which seals the events of many requests in one transaction a moment later.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from bankcrm.audit import repository as repo
from bankcrm.audit.models import GENESIS_HASH, AuditEvent
from bankcrm.db.base import utcnow
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import Permission, Principal, require

if TYPE_CHECKING:
    from bankcrm.audit.sealer import BackgroundSealer

# SPEC section 9: kept at least 6 months; a purge of anything younger is refused
MIN_RETENTION = timedelta(days=183)

_T = TypeVar("_T")

# pending rows chained per sealing transaction
SEAL_BATCH = 1000

# session.info key: the transaction recorded an event (the value: its connection)
_RECORDED = "bankcrm.audit.recorded"

logger = logging.getLogger(__name__)


class AuditAction:
    """The action names in use (strings, so new domains can add their own)."""

    LOGIN_SUCCESS = "login.success"
    LOGIN_FAILURE = "login.failure"
    LOGOUT = "logout"
    CUSTOMER_VIEW = "customer.view"
    CUSTOMER_SEARCH = "customer.search"
    CUSTOMER_LIST = "customer.list"
    FIELD_REVEAL = "field.reveal"
    EXPORT = "export"
    CHANGE = "change"
    CONFIG_CHANGE = "config.change"
    USER_CREATE = "user.create"
    USER_DISABLE = "user.disable"
    USER_PASSWORD_RESET = "user.password_reset"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    KEYS_ROTATE = "keys.rotate"
    KEYS_RETIRE = "keys.retire"
    AUDIT_PURGE = "audit.purge"


class AuditError(Exception):
    """A refused audit operation (purge too young, reveal without reason, broken chain)."""


@dataclass(frozen=True)
class Actor:
    """Who did it: a logged-in user, the command line or the system itself."""

    name: str
    user_id: int | None = None
    client_address: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli")

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def user(cls, user_id: int, username: str, client_address: str | None = None) -> Actor:
        return cls(username, user_id, client_address)


def canonical_json(data: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: the same bytes for the same content on every machine."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _content(
    *,
    seq: int,
    occurred_at: datetime,
    actor: str,
    actor_user_id: int | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    details_json: str,
    client_address: str | None,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "occurred_at": occurred_at.isoformat(),
        "actor": actor,
        "actor_user_id": actor_user_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "details": details_json,
        "client_address": client_address,
    }


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(content).encode("utf-8")).hexdigest()


def row_hash(row: Any) -> str:
    """Recompute the hash of a stored event (ORM object or plain row)."""
    content = _content(
        seq=row.seq,
        occurred_at=row.occurred_at,
        actor=row.actor,
        actor_user_id=row.actor_user_id,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        details_json=row.details_json,
        client_address=row.client_address,
    )
    return chain_hash(row.prev_hash, content)


@dataclass(frozen=True)
class PendingContent:
    """An event's content before it is chained (the columns of ``audit_pending`` but the id)."""

    occurred_at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    details_json: str
    client_address: str | None


def _event_content(
    actor: Actor,
    action: str,
    target_type: str | None,
    target_id: str | None,
    details: Mapping[str, Any] | None,
    occurred_at: datetime,
) -> PendingContent:
    return PendingContent(
        # stored as UTC on both backends; hashing the UTC form keeps the hash stable across the round trip
        occurred_at=occurred_at.astimezone(UTC),
        actor=actor.name[:64],
        actor_user_id=actor.user_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        details_json=canonical_json(dict(details or {})),
        client_address=actor.client_address,
    )


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    clock: Clock = system_clock,
) -> int:
    """Record one event in the caller's transaction (no lock); returns its pending id.

    The event commits or rolls back with the caller's action; it joins the chain (gets its
    sequence number and hash) when it is sealed after the commit.
    """
    content = _event_content(actor, action, target_type, target_id, details, clock())
    pending_id = repo.insert_pending(session, asdict(content))
    # the connection the commit happens on: the after-commit hook seals on it
    session.info[_RECORDED] = session.connection()
    return pending_id


def _append_locked(conn: Connection, last_seq: int, last_hash: str, events: Sequence[Any]) -> tuple[int, str]:
    """Chain ``events`` (rows or mappings with the content columns) after the locked head; returns the new head."""
    seq, prev_hash = last_seq, last_hash
    rows: list[dict[str, Any]] = []
    for e in events:
        seq += 1
        content = _content(
            seq=seq,
            occurred_at=e.occurred_at,
            actor=e.actor,
            actor_user_id=e.actor_user_id,
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            details_json=e.details_json,
            client_address=e.client_address,
        )
        digest = chain_hash(prev_hash, content)
        row = dict(content, occurred_at=e.occurred_at, details_json=e.details_json, prev_hash=prev_hash, hash=digest)
        del row["details"]
        rows.append(row)
        prev_hash = digest
    if rows:
        repo.insert_events(conn, rows)
        repo.advance_head(conn, seq, prev_hash, utcnow())
    return seq, prev_hash


def _seal_pending_locked(conn: Connection, last_seq: int, last_hash: str, *, limit: int) -> tuple[int, int, str]:
    """Chain up to ``limit`` pending rows after the locked head and delete them; returns (count, seq, hash)."""
    pending = repo.pending_batch(conn, limit)
    if not pending:
        return 0, last_seq, last_hash
    seq, digest = _append_locked(conn, last_seq, last_hash, pending)
    repo.delete_pending(conn, [row.id for row in pending])
    return len(pending), seq, digest


def seal(bind: Engine | Connection, *, batch_size: int = SEAL_BATCH, wait: bool = False) -> int:
    """Move committed pending events into the chain, in id order; returns how many were sealed.

    Each batch is one transaction: lock the chain head, chain up to ``batch_size`` pending rows
    after it (next sequence numbers, ``prev_hash`` and ``hash`` as in ``chain_hash``), insert
    them into ``audit_events``, delete them from ``audit_pending``, move the head, commit. On
    PostgreSQL the head is taken with SKIP LOCKED: a sealer that finds another at work returns
    at once instead of waiting for it. A ``Connection`` must not be in a transaction (each batch
    commits).

    Why no committed event is left behind: after each commit the sealer looks again for pending
    rows and, if there are any, goes round again; it stops only when it finds none after its
    commit, or when the head is taken by another sealer. Take an event committed at time t whose
    writer then calls ``seal``. Either the writer gets the lock, and its batch (read after the
    lock, so after t) contains the event unless an earlier sealer already chained it; or another
    sealer holds the lock at that moment. That sealer commits later than t, so its look after
    the commit sees the event (or its absence, once chained) and it goes round again, unless yet
    another sealer took the lock in between, which then read its batch after t, and so on. The
    last holder of the lock always ends with a look, after t, that finds nothing pending.

    That holder may still be at work when a skipping ``seal`` returns. A reader of the log needs
    every event committed before it reads to be chained already: ``wait=True`` waits for the
    head instead of skipping it, so it returns only after the sealer at work has committed and
    the rest is chained too.
    """
    return _on_free_connection(bind, lambda conn: _seal_on(conn, batch_size, wait))


def _on_free_connection(bind: Engine | Connection, work: Callable[[Connection], _T]) -> _T:
    """``work`` on a connection of its own (an engine's) or the given one, which must not be in a transaction."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return work(conn)
    if bind.in_transaction():
        raise ValueError("sealing needs a connection outside a transaction: it commits each batch")
    return work(bind)


def _seal_batch(conn: Connection, batch_size: int, wait: bool) -> int | None:
    """Chain up to ``batch_size`` pending events in one transaction; None when another sealer holds the head."""
    with conn.begin():
        head = repo.lock_head_for_sealing(conn, wait=wait)
        if head is None:
            return None
        sealed, _, _ = _seal_pending_locked(conn, int(head.last_seq), str(head.last_hash), limit=batch_size)
    return sealed


def _seal_on(conn: Connection, batch_size: int, wait: bool = False) -> int:
    total = 0
    while True:
        sealed = _seal_batch(conn, batch_size, wait)
        if sealed is None:  # another sealer holds the head; it looks again after its commit
            return total
        total += sealed
        if sealed < batch_size:
            with conn.begin():
                more = repo.has_pending(conn)
            if not more:
                return total


@dataclass(frozen=True)
class SealRound:
    """What one ``seal_round`` did: how many events it chained, and whether to come back soon."""

    sealed: int
    again: bool  # the head was taken by another sealer, or the batch was full: more may be waiting


def seal_round(bind: Engine | Connection, *, batch_size: int = SEAL_BATCH) -> SealRound:
    """One batch in one transaction, the background sealer's unit of work (``audit.sealer``).

    Unlike ``seal`` it does not look again after its commit. Under load there is nearly always
    an event committed during the round, and chasing those turned every wake into a string of
    one-event transactions (two commits per event on top of the requests' own). Each of those
    commits woke the sealer for a round of its own, which is what keeps nothing behind: the
    caller comes back after its delay, and comes back soon (``again``) when another sealer held
    the head or the batch was full.
    """
    sealed = _on_free_connection(bind, lambda conn: _seal_batch(conn, batch_size, wait=False))
    if sealed is None:  # another sealer holds the head: try again soon
        return SealRound(0, again=True)
    return SealRound(sealed, again=sealed >= batch_size)


def install_seal_hook(factory: sessionmaker[Session], sealer: BackgroundSealer | None = None) -> None:
    """After every commit of ``factory``'s sessions that recorded an audit event: seal, or wake ``sealer``.

    Without a sealer the session seals on its own connection before handing it back; with one
    (``audit.sealer``, the web app on PostgreSQL) the commit only wakes the sealer's thread.
    """
    if sealer is None:
        event.listen(factory, "after_commit", _seal_after_commit)
    else:

        def _wake_sealer(session: Session) -> None:
            if not session.in_nested_transaction() and session.info.pop(_RECORDED, None) is not None:
                sealer.wake()

        event.listen(factory, "after_commit", _wake_sealer)
    event.listen(factory, "after_transaction_end", _forget_recorded)


def _seal_after_commit(session: Session) -> None:
    """After the outermost commit, seal on the connection the session just committed on.

    The events are visible to every other transaction by now. Sealing on the session's own
    connection (in transactions of its own, before the session hands the connection back to the
    pool) costs no second checkout: with one per request, a busy web worker opened and closed
    three times as many PostgreSQL connections. A failure is logged and never reaches the
    caller, whose action is already committed: the events stay pending and the next seal (any
    later commit that records one, or ``bankcrm audit verify``) chains them.
    """
    if session.in_nested_transaction():  # a savepoint's release: nothing is visible to others yet
        return
    conn = session.info.pop(_RECORDED, None)
    # in a transaction still: the session joined an outer one, whose owner commits later
    if not isinstance(conn, Connection) or conn.closed or conn.in_transaction():
        return
    try:
        seal(conn)
    except Exception as exc:
        # the driver's message only: a statement's parameters would carry event details into the log
        logger.warning(
            "sealing the audit log after a commit failed (the events stay pending until the next seal): %s: %s",
            type(exc).__name__,
            getattr(exc, "orig", None) or exc,
        )


def _forget_recorded(session: Session, transaction: SessionTransaction) -> None:
    # a rolled-back transaction took its pending rows with it
    if transaction.parent is None:
        session.info.pop(_RECORDED, None)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the (dotted) keys whose values differ, from each side."""
    b, a = _flatten(before), _flatten(after)
    keys = sorted(k for k in set(b) | set(a) if b.get(k) != a.get(k))
    return {k: b.get(k) for k in keys if k in b}, {k: a.get(k) for k in keys if k in a}


def record_change(
    session: Session,
    actor: Actor,
    *,
    target_type: str,
    target_id: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    action: str = AuditAction.CHANGE,
    masker: Masker | None = None,
    extra: Mapping[str, Any] | None = None,
    clock: Clock = system_clock,
) -> int | None:
    """Record the changed fields with before/after values, sensitive ones masked; None when nothing changed."""
    masker = masker or Masker()
    old, new = changed_fields(masker.mask_mapping(before), masker.mask_mapping(after))
    if not old and not new:
        return None
    details: dict[str, Any] = {"before": old, "after": new, **(extra or {})}
    return record(session, actor, action, target_type=target_type, target_id=target_id, details=details, clock=clock)


def record_reveal(
    session: Session,
    actor: Actor,
    *,
    target_type: str,
    target_id: str,
    field: str,
    reason: str,
    clock: Clock = system_clock,
) -> int:
    """A reveal of one masked field; refused without a stated reason."""
    if len(reason.strip()) < 4:
        raise AuditError("a reveal needs a stated reason")
    details = {"field": field, "reason": reason.strip()[:400]}
    return record(
        session,
        actor,
        AuditAction.FIELD_REVEAL,
        target_type=target_type,
        target_id=target_id,
        details=details,
        clock=clock,
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    broken_seq: int | None = None
    reason: str | None = None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    pending: int = 0  # events recorded but not yet sealed into the chain, so not checked


def verify(session: Session) -> VerifyResult:
    """Walk the sealed chain from the purge anchor to the head and report the first broken link.

    An edited row fails its own hash; a deleted row leaves a gap at its sequence number; a
    deleted tail leaves the last row short of the chain head. Rows sealed after the head was
    read are left for the next verification. It only reads: events still pending are counted
    (``pending``), not checked; ``bankcrm audit verify`` seals them first.
    """
    pending = repo.count_pending(session)
    head = repo.get_head(session)
    if head is None:
        return VerifyResult(False, 0, 0, "the chain head row is missing", pending=pending)
    expected_seq, prev_hash = head.anchor_seq + 1, head.anchor_hash
    last_purge: dict[str, Any] | None = None
    checked = 0
    for row in repo.iter_events(session, upto=head.last_seq):
        if row.seq < expected_seq:
            return VerifyResult(
                False,
                checked,
                row.seq,
                f"row {row.seq} lies before the purge anchor {head.anchor_seq}",
                pending=pending,
            )
        if row.seq > expected_seq:
            gap = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}–{row.seq - 1}"
            reason = f"row {gap} missing: sequence jumps to {row.seq}"
            return VerifyResult(False, checked, expected_seq, reason, pending=pending)
        if row.prev_hash != prev_hash:
            reason = f"prev_hash of row {row.seq} does not match the hash of row {row.seq - 1}"
            return VerifyResult(False, checked, row.seq, reason, pending=pending)
        if row_hash(row) != row.hash:
            reason = f"row {row.seq} does not match its hash (edited)"
            return VerifyResult(False, checked, row.seq, reason, pending=pending)
        if row.action == AuditAction.AUDIT_PURGE:
            last_purge = json.loads(row.details_json)
        prev_hash = row.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if last_seq < head.last_seq:
        return VerifyResult(
            False,
            checked,
            last_seq + 1,
            f"rows {last_seq + 1}–{head.last_seq} missing at the end (the chain head says {head.last_seq})",
            pending=pending,
        )
    if prev_hash != head.last_hash:
        reason = f"hash of row {last_seq} differs from the chain head"
        return VerifyResult(False, checked, last_seq, reason, pending=pending)
    if head.anchor_seq > 0 and (
        last_purge is None
        or last_purge.get("through_seq") != head.anchor_seq
        or last_purge.get("through_hash") != head.anchor_hash
    ):
        return VerifyResult(
            False,
            checked,
            head.anchor_seq + 1,
            "the purge anchor is not the one recorded by the last audit.purge event",
            pending=pending,
        )
    return VerifyResult(True, checked, last_seq=last_seq, last_hash=prev_hash, pending=pending)


@dataclass(frozen=True)
class PurgeResult:
    rows_deleted: int
    through_seq: int | None
    cutoff: datetime


def purge(session: Session, *, older_than: timedelta, actor: Actor, clock: Clock = system_clock) -> PurgeResult:
    """Delete events older than ``older_than`` (never less than 6 months) and leave a verifiable anchor.

    Holds the chain-head lock for the whole transaction: pending events are sealed first and the
    chain verified (purging a broken chain would destroy the evidence); the ``audit.purge`` event
    is chained directly, so the moved anchor and the event recording it commit together.
    """
    if older_than < MIN_RETENTION:
        raise AuditError(
            f"refused: audit events are kept at least {MIN_RETENTION.days} days (6 months); "
            f"asked to purge those older than {older_than.days} days"
        )
    now = clock()
    cutoff = now - older_than
    head = repo.lock_head(session)
    conn = session.connection()
    # sealers skip the head while this transaction holds it: seal again after the commit
    session.info[_RECORDED] = conn
    last_seq, last_hash = head.last_seq, head.last_hash
    while True:
        sealed, last_seq, last_hash = _seal_pending_locked(conn, last_seq, last_hash, limit=SEAL_BATCH)
        if sealed < SEAL_BATCH:
            break
    check = verify(session)
    if not check.ok:
        raise AuditError(f"refused: the chain is broken at row {check.broken_seq} ({check.reason}); investigate first")
    through = repo.last_seq_before(session, cutoff)
    head = repo.lock_head(session)
    if through is None or through <= head.anchor_seq:
        return PurgeResult(0, None, cutoff)
    last = repo.get_event(session, through)
    assert last is not None
    digest = last.hash
    deleted = repo.delete_through(session, through)
    repo.set_anchor(session, through, digest, now)
    details = {
        "through_seq": through,
        "through_hash": digest,
        "rows": deleted,
        "older_than_days": older_than.days,
        "cutoff": cutoff.isoformat(),
    }
    purge_event = _event_content(actor, AuditAction.AUDIT_PURGE, None, None, details, now)
    # after the events sealed above; the head stays locked, so nothing came in between
    _append_locked(conn, last_seq, last_hash, [purge_event])
    return PurgeResult(deleted, through, cutoff)


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
    """Newest events first, filtered (``until`` exclusive)."""
    return repo.search(
        session,
        actor=actor,
        action=action,
        since=since,
        target_type=target_type,
        target_id=target_id,
        limit=limit,
        until=until,
        offset=offset,
    )


@dataclass(frozen=True)
class AuditQuery:
    """An audit-log search as compliance asks it; times are UTC instants (``until`` exclusive)."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = 50


def search_for(
    session: Session, principal: Principal, query: AuditQuery, *, seal_first: Callable[[], object] | None = None
) -> Sequence[AuditEvent]:
    """The audit-log search of the compliance pages and API; needs ``audit.read``.

    ``seal_first``: called once the permission is checked, before reading; the web app passes
    its background sealer's flush, so the search shows every event committed before it.
    """
    require(principal, Permission.AUDIT_READ)
    if seal_first is not None:
        seal_first()
    size = min(max(query.page_size, 1), 200)
    return repo.search(
        session,
        actor=(query.actor or "").strip().lower() or None,
        action=(query.action or "").strip() or None,
        target_type=(query.target_type or "").strip() or None,
        target_id=(query.target_id or "").strip() or None,
        since=query.since,
        until=query.until,
        limit=size,
        offset=(max(query.page, 1) - 1) * size,
    )


def reveal_history(session: Session, principal: Principal, *, limit: int = 20) -> Sequence[AuditEvent]:
    """The latest reveals of masked fields, newest first; needs ``audit.read``."""
    require(principal, Permission.AUDIT_READ)
    return repo.search(session, action=AuditAction.FIELD_REVEAL, limit=limit)
