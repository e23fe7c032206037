"""Recording without a lock, sealing after commit or in the background: writers never wait, no event is lost."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bankcrm.audit import service
from bankcrm.audit.models import AuditEvent, AuditPending
from bankcrm.audit.sealer import BackgroundSealer
from bankcrm.audit.service import Actor
from bankcrm.db.engine import session_factory, session_scope

BOB = Actor.user(8, "bob", "10.1.2.4")


def _counts(engine: Engine) -> tuple[int, int]:
    """(sealed events, pending events), read on a connection of their own."""
    with engine.connect() as conn:
        sealed = conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        pending = conn.execute(select(func.count()).select_from(AuditPending)).scalar_one()
    return int(sealed), int(pending)


def _view(session: Session, customer_id: str, actor: Actor = BOB) -> int:
    return service.record(session, actor, "customer.view", target_type="customer", target_id=customer_id)


def test_events_are_pending_until_commit_and_sealed_right_after(any_engine: Engine) -> None:
    with session_scope(session_factory(any_engine)) as s:
        _view(s, "C1")
        _view(s, "C2")
        # in the writer's own transaction the events wait in audit_pending; nothing is chained yet
        assert s.scalar(select(func.count()).select_from(AuditPending)) == 2
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
    # the commit sealed them: in the chain, in the order recorded, nothing left pending
    assert _counts(any_engine) == (2, 0)
    with session_scope(session_factory(any_engine)) as s:
        events = service.search(s, action="customer.view")
        assert [(e.seq, e.target_id) for e in events] == [(2, "C2"), (1, "C1")]
        result = service.verify(s)
    assert result.ok and result.rows_checked == 2 and result.pending == 0


def test_a_rolled_back_action_leaves_no_pending_row_and_no_event(any_engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(session_factory(any_engine)) as s:
        _view(s, "C1")
        raise RuntimeError("the action failed")
    assert _counts(any_engine) == (0, 0)
    # a savepoint rolled back takes its event with it; the outer transaction's event stays
    with session_scope(session_factory(any_engine)) as s:
        _view(s, "C1")
        nested = s.begin_nested()
        _view(s, "C2")
        nested.rollback()
    with session_scope(session_factory(any_engine)) as s:
        assert [e.target_id for e in service.search(s)] == ["C1"]
        assert service.verify(s).ok


def test_verify_counts_pending_events_and_seal_chains_them(any_engine: Engine) -> None:
    # a session made without session_factory has no seal hook: its events stay pending
    with Session(any_engine) as s:
        _view(s, "C1")
        _view(s, "C2")
        s.commit()
    assert _counts(any_engine) == (0, 2)
    with session_scope(session_factory(any_engine)) as s:
        result = service.verify(s)
    assert result.ok and result.rows_checked == 0 and result.pending == 2
    assert service.seal(any_engine) == 2
    assert service.seal(any_engine) == 0
    with session_scope(session_factory(any_engine)) as s:
        result = service.verify(s)
    assert result.ok and result.rows_checked == 2 and result.pending == 0


def test_seal_works_in_batches(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        for i in range(7):
            _view(s, f"C{i}")
        s.commit()
    with any_engine.connect() as conn:
        assert service.seal(conn, batch_size=3) == 7
    with session_scope(session_factory(any_engine)) as s:
        result = service.verify(s)
        assert [e.target_id for e in service.search(s, limit=3)] == ["C6", "C5", "C4"]
    assert result.ok and result.rows_checked == 7 and result.pending == 0


def test_a_failed_seal_never_fails_the_request(
    any_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_seal = service.seal

    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "seal", broken)
    with (
        caplog.at_level(logging.WARNING, logger="bankcrm.audit.service"),
        session_scope(session_factory(any_engine)) as s,
    ):
        _view(s, "C1")
    assert "sealing the audit log after a commit failed" in caplog.text and "disk full" in caplog.text
    assert _counts(any_engine) == (0, 1)  # the action and its event committed; the event waits
    monkeypatch.setattr(service, "seal", real_seal)
    with session_scope(session_factory(any_engine)) as s:
        _view(s, "C2")
    assert _counts(any_engine) == (2, 0)  # the next seal caught up, in the order recorded
    with session_scope(session_factory(any_engine)) as s:
        assert [e.target_id for e in service.search(s)] == ["C2", "C1"]
        assert service.verify(s).ok


def test_edited_and_deleted_sealed_rows_are_caught_with_events_pending(any_engine: Engine) -> None:
    factory = session_factory(any_engine)
    for i in range(4):
        with session_scope(factory) as s:
            _view(s, f"C{i}")
    with Session(any_engine) as s:  # one more, left pending
        _view(s, "C9")
        s.commit()
    with any_engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET target_id = 'C7' WHERE seq = 2"))
    with session_scope(factory) as s:
        edited = service.verify(s)
    assert not edited.ok and edited.broken_seq == 2 and "edited" in (edited.reason or "") and edited.pending == 1
    with any_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    service.seal(any_engine)  # sealing more does not hide the gap
    with session_scope(factory) as s:
        deleted = service.verify(s)
    assert not deleted.ok and deleted.broken_seq == 2 and "missing" in (deleted.reason or "")


def test_purge_seals_what_is_pending_and_chains_its_own_event(any_engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    old = datetime(2025, 1, 1, tzinfo=UTC)
    with Session(any_engine) as s:
        for i in range(3):
            service.record(s, BOB, "customer.view", target_id=f"C{i}", clock=lambda: old)
        s.commit()
    with session_scope(session_factory(any_engine)) as s:
        result = service.purge(
            s, older_than=timedelta(days=200), actor=Actor.cli(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC)
        )
    assert result.rows_deleted == 3 and result.through_seq == 3
    assert _counts(any_engine) == (1, 0)
    with session_scope(session_factory(any_engine)) as s:
        check = service.verify(s)
        assert [e.seq for e in service.search(s, action="audit.purge")] == [4]
    assert check.ok and check.rows_checked == 1


def _require_postgres(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and SKIP LOCKED are PostgreSQL's; SQLite serialises every writer")


def test_an_open_transaction_with_a_recorded_event_does_not_block_another_writer(any_engine: Engine) -> None:
    """With the old design the second writer queued on the chain-head row until the first committed."""
    _require_postgres(any_engine)
    factory = session_factory(any_engine)
    first = factory()
    try:
        _view(first, "C1", Actor.user(1, "first"))  # recorded, not committed: the transaction stays open
        start = time.monotonic()
        with session_scope(factory) as second:
            second.execute(text("SET LOCAL lock_timeout = '3s'"))  # fail instead of hanging on the old design
            _view(second, "C2", Actor.user(2, "second"))
        assert time.monotonic() - start < 3
        # the second writer's event is sealed although a transaction with an earlier pending id is open
        with session_scope(factory) as s:
            assert [(e.seq, e.actor) for e in service.search(s)] == [(1, "second")]
        first.commit()
    finally:
        first.close()
    assert _counts(any_engine) == (2, 0)
    with session_scope(factory) as s:
        assert [e.actor for e in service.search(s)] == ["first", "second"]
        assert service.verify(s).ok


def test_a_writer_does_not_wait_for_a_sealer_at_work(any_engine: Engine) -> None:
    """SKIP LOCKED: when the chain head is held, a writer's commit returns at once and leaves the sealing."""
    _require_postgres(any_engine)
    factory = session_factory(any_engine)
    with any_engine.connect() as holder:
        holder.execute(text("SELECT last_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
        start = time.monotonic()
        with session_scope(factory) as s:
            _view(s, "C1")
        assert time.monotonic() - start < 3
        assert _counts(any_engine) == (0, 1)
        holder.rollback()
    assert service.seal(any_engine) == 1
    assert _counts(any_engine) == (1, 0)


def _write_from_threads(factory: sessionmaker[Session], writers: int, each: int) -> None:
    """``writers`` threads, each committing ``each`` views one by one (writer n views Cn-0, Cn-1, …)."""
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(each):
                with session_scope(factory) as s:
                    _view(s, f"C{n}-{i}", Actor.user(n, f"writer{n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _assert_chained_in_commit_order(factory: sessionmaker[Session], writers: int, each: int) -> None:
    with session_scope(factory) as s:
        result = service.verify(s)
        per_writer = {n: [e.target_id for e in reversed(service.search(s, actor=f"writer{n}"))] for n in range(writers)}
    assert result.ok and result.rows_checked == writers * each and result.pending == 0
    # each writer's events are chained in the order it committed them
    assert per_writer == {n: [f"C{n}-{i}" for i in range(each)] for n in range(writers)}


def test_many_threads_recording_leave_nothing_pending_and_a_valid_chain(any_engine: Engine) -> None:
    """No explicit seal: the after-commit seals of the writers themselves leave nothing behind."""
    factory = session_factory(any_engine)
    _write_from_threads(factory, 4, 20)
    assert _counts(any_engine) == (80, 0)
    _assert_chained_in_commit_order(factory, 4, 20)


# ---- the background sealer (the web app on PostgreSQL) ----------------------------------------


def _wait_for(engine: Engine, expected: tuple[int, int], timeout: float = 10.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    counts = _counts(engine)
    while counts != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        counts = _counts(engine)
    return counts


def test_a_commit_wakes_the_sealer_instead_of_sealing(any_engine: Engine) -> None:
    # a long delay: the events must still be pending when the commit has returned
    sealer = BackgroundSealer(any_engine, delay=0.5, interval=60)
    factory = session_factory(any_engine, sealer=sealer)
    try:
        assert not sealer.running  # started by the first commit that recorded something
        with session_scope(factory) as s:
            _view(s, "C1")
            _view(s, "C2")
        assert sealer.running
        assert _counts(any_engine) == (0, 2)
        assert _wait_for(any_engine, (2, 0)) == (2, 0)
        with session_scope(factory) as s:
            assert [(e.seq, e.target_id) for e in service.search(s)] == [(2, "C2"), (1, "C1")]
            assert service.verify(s).ok
    finally:
        sealer.stop()
    assert not sealer.running


def test_a_commit_without_an_event_does_not_start_the_sealer(any_engine: Engine) -> None:
    sealer = BackgroundSealer(any_engine, delay=0, interval=60)
    with session_scope(session_factory(any_engine, sealer=sealer)) as s:
        s.execute(select(func.count()).select_from(AuditEvent))
    assert not sealer.running
    # a rolled-back event wakes nothing and leaves nothing
    with pytest.raises(RuntimeError), session_scope(session_factory(any_engine, sealer=sealer)) as s:
        _view(s, "C1")
        raise RuntimeError("the action failed")
    assert not sealer.running and _counts(any_engine) == (0, 0)


def test_many_writers_are_sealed_in_fewer_rounds_than_commits(any_engine: Engine) -> None:
    sealer = BackgroundSealer(any_engine, delay=0.05, interval=60)
    factory = session_factory(any_engine, sealer=sealer)
    try:
        _write_from_threads(factory, 4, 15)
        assert _wait_for(any_engine, (60, 0)) == (60, 0)
        assert sealer.rounds < 60  # one seal takes many events
        _assert_chained_in_commit_order(factory, 4, 15)
    finally:
        sealer.stop()


def test_the_sealer_commits_once_per_round_while_writers_keep_committing(any_engine: Engine) -> None:
    """A round is one batch: it does not chase the events committed while it ran (their commits
    woke it for a round of their own), which under load made a string of one-event transactions."""
    sealer = BackgroundSealer(any_engine, delay=0.01, interval=60)
    factory = session_factory(any_engine, sealer=sealer)
    sealer_commits = [0]

    @event.listens_for(any_engine, "commit")
    def _count(conn: object) -> None:
        if threading.current_thread().name == "audit-sealer":
            sealer_commits[0] += 1

    try:
        _write_from_threads(factory, 4, 25)
        assert _wait_for(any_engine, (100, 0)) == (100, 0)
        rounds = sealer.rounds
        assert rounds < 100
        assert sealer_commits[0] <= rounds
        _assert_chained_in_commit_order(factory, 4, 25)
    finally:
        sealer.stop()
        event.remove(any_engine, "commit", _count)


def test_a_seal_round_takes_one_batch_and_says_when_more_may_wait(any_engine: Engine) -> None:
    with Session(any_engine) as s:  # no seal hook: three committed, pending events
        for cid in ("C1", "C2", "C3"):
            _view(s, cid)
        s.commit()
    assert service.seal_round(any_engine, batch_size=2) == service.SealRound(2, again=True)
    assert _counts(any_engine) == (2, 1)
    assert service.seal_round(any_engine, batch_size=2) == service.SealRound(1, again=False)
    assert service.seal_round(any_engine, batch_size=2) == service.SealRound(0, again=False)
    assert _counts(any_engine) == (3, 0)


def test_a_seal_round_that_finds_the_head_taken_asks_to_come_back(any_engine: Engine) -> None:
    _require_postgres(any_engine)
    with Session(any_engine) as s:
        _view(s, "C1")
        s.commit()
    with any_engine.connect() as holder:
        holder.execute(text("SELECT last_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
        assert service.seal_round(any_engine) == service.SealRound(0, again=True)
        holder.rollback()
    assert service.seal_round(any_engine) == service.SealRound(1, again=False)


def test_events_another_process_left_pending_are_sealed_on_the_interval(any_engine: Engine) -> None:
    sealer = BackgroundSealer(any_engine, delay=0, interval=0.1)
    factory = session_factory(any_engine, sealer=sealer)
    try:
        with session_scope(factory) as s:  # starts the thread
            _view(s, "C1")
        assert _wait_for(any_engine, (1, 0)) == (1, 0)
        # a session without any seal hook, like a worker killed between its commit and its seal
        with Session(any_engine) as other:
            _view(other, "C2")
            other.commit()
        # nothing wakes the sealer; its interval finds the event
        assert _wait_for(any_engine, (2, 0)) == (2, 0)
    finally:
        sealer.stop()


def test_stop_seals_what_is_pending_without_waiting_out_the_delay(any_engine: Engine) -> None:
    sealer = BackgroundSealer(any_engine, delay=30, interval=60)
    factory = session_factory(any_engine, sealer=sealer)
    with session_scope(factory) as s:
        _view(s, "C1")
    assert _counts(any_engine) == (0, 1)
    started = time.monotonic()
    sealer.stop()
    assert time.monotonic() - started < 10
    assert not sealer.running
    assert _counts(any_engine) == (1, 0)


def test_flush_seals_in_the_callers_thread(any_engine: Engine) -> None:
    sealer = BackgroundSealer(any_engine, delay=30, interval=60)
    factory = session_factory(any_engine, sealer=sealer)
    try:
        with session_scope(factory) as s:
            _view(s, "C1")
            _view(s, "C2")
        assert _counts(any_engine) == (0, 2)
        assert sealer.flush() == 2
        assert _counts(any_engine) == (2, 0)
    finally:
        sealer.stop()


def test_flush_waits_for_a_sealer_at_work_instead_of_skipping_it(any_engine: Engine) -> None:
    """A reader's flush returns only when every event committed before it is chained, even when
    another sealer holds the chain head at that moment (a background seal skips it)."""
    _require_postgres(any_engine)
    sealer = BackgroundSealer(any_engine, delay=30, interval=60)
    factory = session_factory(any_engine, sealer=sealer)
    try:
        with session_scope(factory) as s:
            _view(s, "C1")
        flushed: list[int] = []
        with any_engine.connect() as holder:
            holder.execute(text("SELECT last_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
            assert service.seal(any_engine) == 0  # the skipping seal gives up at once
            reader = threading.Thread(target=lambda: flushed.append(sealer.flush()))
            reader.start()
            reader.join(1.0)
            assert reader.is_alive() and flushed == []  # waiting for the holder, not returning empty-handed
            holder.rollback()
        reader.join(10)
        assert flushed == [1]
        assert _counts(any_engine) == (1, 0)
    finally:
        sealer.stop()


def test_a_failed_seal_is_logged_and_the_thread_goes_on(
    any_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bankcrm.audit.sealer as sealer_module

    failures = threading.Event()

    def broken(*_args: object, **_kwargs: object) -> int:
        failures.set()
        raise RuntimeError("disk full")

    monkeypatch.setattr(sealer_module, "seal_round", broken)
    sealer = BackgroundSealer(any_engine, delay=0, interval=0.05)
    factory = session_factory(any_engine, sealer=sealer)
    try:
        with caplog.at_level(logging.WARNING, logger="bankcrm.audit.sealer"):
            with session_scope(factory) as s:
                _view(s, "C1")
            assert failures.wait(10)
            time.sleep(0.2)
        assert "sealing the audit log failed" in caplog.text and "disk full" in caplog.text
        assert sealer.running and _counts(any_engine) == (0, 1)  # committed, waiting
        monkeypatch.setattr(sealer_module, "seal_round", service.seal_round)
        assert _wait_for(any_engine, (1, 0)) == (1, 0)  # the next round caught up
    finally:
        sealer.stop()


def test_an_unreachable_database_does_not_kill_the_thread(caplog: pytest.LogCaptureFixture) -> None:
    gone = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1})
    sealer = BackgroundSealer(gone, delay=0, interval=0.05)
    with caplog.at_level(logging.WARNING, logger="bankcrm.audit.sealer"):
        sealer.wake()
        deadline = time.monotonic() + 10
        while sealer.rounds < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sealer.rounds >= 2 and sealer.running
    sealer.stop()
    assert "sealing the audit log failed" in caplog.text and "OperationalError" in caplog.text


def test_bad_timings_are_refused(any_engine: Engine) -> None:
    with pytest.raises(ValueError, match="delay"):
        BackgroundSealer(any_engine, delay=-1)
    with pytest.raises(ValueError, match="interval"):
        BackgroundSealer(any_engine, interval=0)
