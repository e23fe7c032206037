"""The hash-chained audit log: verification, tampering found at the right row, concurrent writers, purge."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text

from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.configuration import load_config, reset_config, save_config, with_values
from bankcrm.audit import service
from bankcrm.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from bankcrm.audit.service import Actor, AuditError
from bankcrm.db.engine import session_factory, session_scope

ALICE = Actor.user(7, "alice", "10.1.2.3")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _write(engine: Engine, n: int, *, clock: Clock | None = None, step: timedelta | None = None) -> None:
    factory = session_factory(engine)
    for i in range(n):
        with session_scope(factory) as s:
            service.record(
                s,
                ALICE,
                service.AuditAction.CUSTOMER_VIEW,
                target_type="customer",
                target_id=f"C{i}",
                details={"i": i, "note": "查看客户 360"},
                **({"clock": clock} if clock else {}),
            )
        if clock and step:
            clock.now += step


def _verify(engine: Engine) -> service.VerifyResult:
    with session_scope(session_factory(engine)) as s:
        return service.verify(s)


def test_empty_chain_verifies(any_engine: Engine) -> None:
    result = _verify(any_engine)
    assert result.ok and result.rows_checked == 0 and result.last_hash == GENESIS_HASH


def test_chain_links_and_verifies(any_engine: Engine) -> None:
    _write(any_engine, 5)
    result = _verify(any_engine)
    assert result.ok and result.rows_checked == 5 and result.last_seq == 5
    with session_scope(session_factory(any_engine)) as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        head = s.get(AuditChainHead, 1)
        assert head is not None and head.last_hash == rows[-1].hash == result.last_hash
        assert rows[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
        assert rows[0].actor == "alice" and rows[0].actor_user_id == 7 and rows[0].client_address == "10.1.2.3"


def test_edited_row_is_found_at_its_sequence_number(any_engine: Engine) -> None:
    _write(any_engine, 6)
    with any_engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET target_id = 'C99' WHERE seq = 4"))
    result = _verify(any_engine)
    assert not result.ok and result.broken_seq == 4 and "edited" in (result.reason or "")
    assert result.rows_checked == 3


def test_edited_and_rehashed_row_breaks_the_next_link(any_engine: Engine) -> None:
    _write(any_engine, 6)
    with session_scope(session_factory(any_engine)) as s:
        row = s.get(AuditEvent, 3)
        assert row is not None
        row.details_json = '{"i":999}'
        row.hash = service.row_hash(row)  # a careful forger recomputes the row's own hash
    result = _verify(any_engine)
    assert not result.ok and result.broken_seq == 4 and "prev_hash" in (result.reason or "")


def test_deleted_row_is_found_at_its_sequence_number(any_engine: Engine) -> None:
    _write(any_engine, 6)
    with any_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    result = _verify(any_engine)
    assert not result.ok and result.broken_seq == 3 and "missing" in (result.reason or "")


def test_deleted_first_row_is_found(any_engine: Engine) -> None:
    _write(any_engine, 3)
    with any_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 1"))
    result = _verify(any_engine)
    assert not result.ok and result.broken_seq == 1


def test_deleted_tail_is_found_against_the_chain_head(any_engine: Engine) -> None:
    _write(any_engine, 6)
    with any_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq >= 5"))
    result = _verify(any_engine)
    assert not result.ok and result.broken_seq == 5 and "at the end" in (result.reason or "")


def test_concurrent_writers_keep_the_chain_linear(any_engine: Engine) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _write(any_engine, 15)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = _verify(any_engine)
    assert result.ok and result.rows_checked == 45


def test_change_masks_sensitive_values_and_keeps_only_changes(any_engine: Engine) -> None:
    with session_scope(session_factory(any_engine)) as s:
        pending_id = service.record_change(
            s,
            ALICE,
            target_type="customer",
            target_id="C1",
            before={"phone": "13812345678", "occupation": "teacher", "city": "北京"},
            after={"phone": "13987654321", "occupation": "teacher", "city": "北京"},
        )
        assert pending_id is not None
        assert (
            service.record_change(s, ALICE, target_type="customer", target_id="C1", before={"a": 1}, after={"a": 1})
            is None
        )
    with session_scope(session_factory(any_engine)) as s:
        row = s.get(AuditEvent, 1)
        assert row is not None and row.action == "change"
        assert row.details_json == '{"after":{"phone":"139****4321"},"before":{"phone":"138****5678"}}'


def test_reveal_needs_a_reason(any_engine: Engine) -> None:
    with session_scope(session_factory(any_engine)) as s:
        with pytest.raises(AuditError, match="reason"):
            service.record_reveal(s, ALICE, target_type="customer", target_id="C1", field="phone", reason="  ")
        service.record_reveal(
            s, ALICE, target_type="customer", target_id="C1", field="phone", reason="客户来电核实身份"
        )
    with session_scope(session_factory(any_engine)) as s:
        assert service.search(s, action="field.reveal")[0].details_json.endswith('"reason":"客户来电核实身份"}')


def test_config_changes_are_audited_with_before_and_after(any_engine: Engine) -> None:
    save_config(any_engine, with_values(NightlyConfig(), {"vip_aum_threshold": "600000"}), by="test")
    reset_config(any_engine, by="test")
    assert load_config(any_engine) == NightlyConfig()
    with session_scope(session_factory(any_engine)) as s:
        events = list(reversed(service.search(s, action="config.change")))
        assert [e.actor for e in events] == ["test", "test"]
        first, second = (e.details_json for e in events)
        assert '"before":{"vip_aum_threshold":' in first and '"after":{"vip_aum_threshold":600000' in first
        assert '"via":"reset"' in second and '"after":{"vip_aum_threshold"' in second
        assert service.verify(s).ok


def test_purge_refuses_anything_younger_than_six_months(any_engine: Engine) -> None:
    _write(any_engine, 2)
    with session_scope(session_factory(any_engine)) as s, pytest.raises(AuditError, match="at least 183 days"):
        service.purge(s, older_than=timedelta(days=182), actor=Actor.cli())


def test_purge_keeps_the_chain_verifiable(any_engine: Engine) -> None:
    clock = Clock(datetime(2025, 1, 1, tzinfo=UTC))
    _write(any_engine, 10, clock=clock, step=timedelta(days=30))  # 2025-01-01 … 2025-09-28
    now = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    with session_scope(session_factory(any_engine)) as s:
        result = service.purge(s, older_than=timedelta(days=300), actor=Actor.cli(), clock=now)
    # cutoff 2025-03-07: events at Jan 1, Jan 31 and Mar 2 go
    assert result.rows_deleted == 3 and result.through_seq == 3
    check = _verify(any_engine)
    assert check.ok and check.rows_checked == 8  # seven kept plus the purge event itself
    with session_scope(session_factory(any_engine)) as s:
        purge_event = service.search(s, action="audit.purge")[0]
        assert purge_event.seq == 11 and '"rows":3' in purge_event.details_json
    # tampering after a purge is still found
    with any_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    assert _verify(any_engine).broken_seq == 4


def test_purge_refuses_a_broken_chain(any_engine: Engine) -> None:
    clock = Clock(datetime(2025, 1, 1, tzinfo=UTC))
    _write(any_engine, 3, clock=clock)
    with any_engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    with session_scope(session_factory(any_engine)) as s, pytest.raises(AuditError, match="broken at row 2"):
        service.purge(
            s, older_than=timedelta(days=200), actor=Actor.cli(), clock=Clock(datetime(2026, 6, 1, tzinfo=UTC))
        )


def test_forged_anchor_is_found(any_engine: Engine) -> None:
    _write(any_engine, 4)
    with any_engine.begin() as conn:
        # hiding the first two rows by moving the anchor, without a purge event that records it
        anchor = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 2")).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq <= 2"))
        conn.execute(text("UPDATE audit_chain_head SET anchor_seq = 2, anchor_hash = :h"), {"h": anchor})
    result = _verify(any_engine)
    assert not result.ok and result.broken_seq == 3 and "anchor" in (result.reason or "")
