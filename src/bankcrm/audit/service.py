"""Writing, verifying and purging the hash-chained audit log.

Each event stores ``prev_hash`` and ``hash = SHA-256(prev_hash || canonical JSON of its content)``.
Writers serialise on the chain-head row (see ``repository.claim_next_seq``), so the chain stays
linear however many processes write. Services record events and never commit; the event is
part of the caller's transaction, so an action that rolls back leaves no audit row and an
audit row never exists without its action.

Record events as late as possible in a transaction: the chain-head lock is held until commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bankcrm.audit import repository as repo
from bankcrm.audit.models import GENESIS_HASH, AuditEvent
from bankcrm.db.base import utcnow
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import Permission, Principal, require

# SPEC section 9: kept at least 6 months; a purge of anything younger is refused
MIN_RETENTION = timedelta(days=183)


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
    """Append one event to the chain (in the caller's transaction); returns its sequence number."""
    seq, prev_hash = repo.claim_next_seq(session)
    # stored as UTC on both backends; hashing the UTC form keeps the hash stable across the round trip
    occurred_at = clock().astimezone(UTC)
    details_json = canonical_json(dict(details or {}))
    values = _content(
        seq=seq,
        occurred_at=occurred_at,
        actor=actor.name[:64],
        actor_user_id=actor.user_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        details_json=details_json,
        client_address=actor.client_address,
    )
    digest = chain_hash(prev_hash, values)
    row = dict(values, occurred_at=occurred_at, details_json=details_json, prev_hash=prev_hash, hash=digest)
    del row["details"]
    repo.insert_event(session, row)
    repo.set_head_hash(session, seq, digest, utcnow())
    return seq


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


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the purge anchor to the head and report the first broken link.

    An edited row fails its own hash; a deleted row leaves a gap at its sequence number; a
    deleted tail leaves the last row short of the chain head. Rows written after the head was
    read are left for the next verification.
    """
    head = repo.get_head(session)
    if head is None:
        return VerifyResult(False, 0, 0, "the chain head row is missing")
    expected_seq, prev_hash = head.anchor_seq + 1, head.anchor_hash
    last_purge: dict[str, Any] | None = None
    checked = 0
    for row in repo.iter_events(session, upto=head.last_seq):
        if row.seq < expected_seq:
            return VerifyResult(
                False, checked, row.seq, f"row {row.seq} lies before the purge anchor {head.anchor_seq}"
            )
        if row.seq > expected_seq:
            gap = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}–{row.seq - 1}"
            return VerifyResult(False, checked, expected_seq, f"row {gap} missing: sequence jumps to {row.seq}")
        if row.prev_hash != prev_hash:
            return VerifyResult(
                False, checked, row.seq, f"prev_hash of row {row.seq} does not match the hash of row {row.seq - 1}"
            )
        if row_hash(row) != row.hash:
            return VerifyResult(False, checked, row.seq, f"row {row.seq} does not match its hash (edited)")
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
        )
    if prev_hash != head.last_hash:
        return VerifyResult(False, checked, last_seq, f"hash of row {last_seq} differs from the chain head")
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
        )
    return VerifyResult(True, checked, last_seq=last_seq, last_hash=prev_hash)


@dataclass(frozen=True)
class PurgeResult:
    rows_deleted: int
    through_seq: int | None
    cutoff: datetime


def purge(session: Session, *, older_than: timedelta, actor: Actor, clock: Clock = system_clock) -> PurgeResult:
    """Delete events older than ``older_than`` (never less than 6 months) and leave a verifiable anchor.

    The chain is verified first: purging a broken chain would destroy the evidence.
    """
    if older_than < MIN_RETENTION:
        raise AuditError(
            f"refused: audit events are kept at least {MIN_RETENTION.days} days (6 months); "
            f"asked to purge those older than {older_than.days} days"
        )
    now = clock()
    cutoff = now - older_than
    repo.lock_head(session)
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
    record(session, actor, AuditAction.AUDIT_PURGE, details=details, clock=clock)
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


def search_for(session: Session, principal: Principal, query: AuditQuery) -> Sequence[AuditEvent]:
    """The audit-log search of the compliance pages and API; needs ``audit.read``."""
    require(principal, Permission.AUDIT_READ)
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
