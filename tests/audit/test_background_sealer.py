"""The background sealer: commits only wake it, it seals moments later, and nothing committed is left behind."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

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
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                with session_scope(factory) as s:
                    _view(s, f"C{n}-{i}", Actor.user(n, f"writer{n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert _wait_for(any_engine, (60, 0)) == (60, 0)
        assert sealer.rounds < 60  # one seal takes many events
        with session_scope(factory) as s:
            result = service.verify(s)
            per_writer = {n: [e.target_id for e in reversed(service.search(s, actor=f"writer{n}"))] for n in range(4)}
        assert result.ok and result.rows_checked == 60 and result.pending == 0
        # each writer's events are chained in the order it committed them
        assert per_writer == {n: [f"C{n}-{i}" for i in range(15)] for n in range(4)}
    finally:
        sealer.stop()


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


def test_a_failed_seal_is_logged_and_the_thread_goes_on(
    any_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bankcrm.audit.sealer as sealer_module

    failures = threading.Event()

    def broken(*_args: object, **_kwargs: object) -> int:
        failures.set()
        raise RuntimeError("disk full")

    monkeypatch.setattr(sealer_module, "seal", broken)
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
        monkeypatch.setattr(sealer_module, "seal", service.seal)
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
