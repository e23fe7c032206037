"""Property tests: no sequence of scheduling and dispatch calls breaks the caps, the quiet hours or an opt-out.

Each example replays a random sequence — message tasks on mixed channels, consent granted and
withdrawn, marketing calls logged, time moving by minutes to days, enqueue and dispatch passes,
gateway failures and dispatchers killed mid-send — against a copy of one migrated database, then
checks every message the gateway accepted against the policy at the instant it was accepted.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from outbox_bank import FakeClock, RecordingGateway, add_message_task, build_bank, log_marketing_call, sh
from sqlalchemy import select

from bankcrm.config import Settings
from bankcrm.customers.models import ConsentEvent, Interaction
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.db.migrate import upgrade
from bankcrm.outbox import repository as repo
from bankcrm.outbox import service
from bankcrm.outbox.dispatcher import Dispatcher, DispatchOptions
from bankcrm.outbox.gateways import GatewayError, OutgoingMessage
from bankcrm.outbox.policy import ContactPolicy, consent_at, follows_marketing_rules, in_quiet_hours
from bankcrm.security.crypto import CipherSource, cipher_for

INITIAL_CONSENT = {"C1": True, "C2": False, "C3": True}
CUSTOMERS = sorted(INITIAL_CONSENT)
POLICY = ContactPolicy()

customer = st.sampled_from(CUSTOMERS)
task = st.tuples(
    st.just("task"),
    customer,
    st.sampled_from(["need_salary_plan", "need_salary_plan", "birthday", "repayment_due"]),
    st.sampled_from(["sms", "email", "wechat"]),
)
channel = st.sampled_from(["sms", "email", "wechat"])
op = st.one_of(
    task,
    task,
    task,
    st.tuples(st.just("dispatch")),
    st.tuples(st.just("dispatch")),
    st.tuples(st.just("consent"), customer, st.sampled_from([True, True, True, False])),
    st.tuples(st.just("call"), customer),
    st.tuples(
        st.just("advance"),
        st.sampled_from([1, 17, 59, 60 * 3, 60 * 5, 60 * 11, 60 * 24, 60 * 24 * 2, 60 * 24 * 3, 60 * 24 * 8]),
    ),
    st.tuples(st.just("enqueue")),
    st.tuples(st.just("fail_next"), st.booleans()),
    st.tuples(st.just("crash"), st.booleans()),
)


class Killed(BaseException):
    """The process died (not an error any code would catch)."""


class DyingGateway:
    """Hands the message over (or not) and then kills the dispatcher that called it."""

    def __init__(self, inner: RecordingGateway, *, hand_over: bool) -> None:
        self.inner = inner
        self.hand_over = hand_over

    def send(self, message: OutgoingMessage) -> str:
        if self.hand_over:
            self.inner.send(message)
        raise Killed

    def lookup(self, idempotency_key: str) -> str | None:
        return self.inner.lookup(idempotency_key)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("outbox-template")
    s = Settings(home=home)
    engine = make_engine(s)
    upgrade(engine)
    with session_scope(session_factory(engine)) as session:
        build_bank(session, cipher_for(s.effective_key_file), INITIAL_CONSENT)
    engine.dispose()
    return home


def _fresh_home(template: Path, base: Path) -> Path:
    home = base / uuid.uuid4().hex[:10]
    shutil.copytree(template, home)
    return home


SETTINGS = settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# one customer who consents, marketing messages on every channel, calls and short steps: the caps bind
busy_task = st.tuples(st.just("task"), st.just("C1"), st.sampled_from(["need_salary_plan", "birthday"]), channel)
dispatch = st.tuples(st.just("dispatch"))
busy_advance = st.tuples(st.just("advance"), st.sampled_from([60, 60 * 6, 60 * 13, 60 * 24, 60 * 24 * 2, 60 * 24 * 4]))
busy = st.one_of(
    busy_task,
    busy_task,
    busy_task,
    dispatch,
    dispatch,
    dispatch,
    busy_advance,
    busy_advance,
    st.tuples(st.just("call"), st.just("C1")),
    st.tuples(st.just("crash"), st.booleans()),
)


@SETTINGS
@given(ops=st.lists(op, min_size=10, max_size=40), start_minute=st.integers(0, 24 * 60 - 1))
def test_no_sequence_breaks_the_policy(
    template: Path, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple], start_minute: int
) -> None:
    _replay(template, tmp_path_factory, ops, start_minute)


@SETTINGS
@given(ops=st.lists(busy, min_size=15, max_size=40), start_minute=st.integers(0, 24 * 60 - 1))
def test_caps_hold_for_a_busy_customer(
    template: Path, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple], start_minute: int
) -> None:
    _replay(template, tmp_path_factory, ops, start_minute)


def _replay(template: Path, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple], start_minute: int) -> None:
    home = _fresh_home(template, tmp_path_factory.getbasetemp())
    s = Settings(home=home)
    engine = make_engine(s)
    factory = session_factory(engine)
    clock = FakeClock(sh(2026, 11, 26) + timedelta(minutes=start_minute))
    gateway = RecordingGateway(clock)
    gateways = {"sms": gateway, "email": gateway, "wechat": gateway}
    crashed = 0

    def dispatcher(worker: str) -> Dispatcher:
        return Dispatcher(
            factory,
            gateways,
            CipherSource(s.effective_key_file),
            options=DispatchOptions(batch=3, lease_seconds=300, backoff_seconds=600, max_attempts=3),
            clock=clock,
            worker=worker,
        )

    try:
        for step in ops:
            kind = step[0]
            with session_scope(factory) as session:
                if kind == "task":
                    add_message_task(session, step[1], step[2], channel=step[3], at=clock(), facts={"amount": 1})
                elif kind == "consent":
                    service.record_consent(session, step[1], step[2], "app", clock())
                elif kind == "call":
                    log_marketing_call(session, step[1], clock())
                elif kind == "advance":
                    clock.advance(minutes=step[1])
                elif kind == "enqueue":
                    service.enqueue_task_messages(session, clock())
            if kind == "dispatch":
                # as a dispatcher pass does: new message tasks first, then everything due
                with session_scope(factory) as session:
                    service.enqueue_task_messages(session, clock())
                dispatcher("main").drain()
            elif kind == "fail_next":
                gateway.fail_next.append(GatewayError("gateway said no", permanent=step[1]))
            elif kind == "crash":
                # a dispatcher dies in the middle of a send: before or after the gateway accepted it
                crashed += 1
                dead = dispatcher(f"dead-{crashed}")
                dead.options = DispatchOptions(batch=1, lease_seconds=300)
                dying = DyingGateway(gateway, hand_over=step[1])
                dead.gateways = {"sms": dying, "email": dying, "wechat": dying}
                with contextlib.suppress(Killed):
                    dead.run_batch()
            clock.advance(seconds=1)  # every step happens at a distinct instant
        # let leases run out and everything due go, through a night and a day
        for hours in (0.2, 8, 8, 8):
            clock.advance(hours=hours)
            with session_scope(factory) as session:
                service.enqueue_task_messages(session, clock())
            dispatcher("final").drain()
        _check(factory, gateway)
    finally:
        engine.dispose()
        shutil.rmtree(home, ignore_errors=True)


def _check(factory, gateway: RecordingGateway) -> None:  # type: ignore[no-untyped-def]
    """Every accepted marketing or care message, in the order the gateway accepted them."""
    with session_scope(factory) as session:
        by_key = {m.idempotency_key: m for m in repo.list_messages(session)}
        consent = {
            cid: [
                (e.recorded_at, e.consent)
                for e in session.scalars(select(ConsentEvent).where(ConsentEvent.customer_id == cid))
            ]
            for cid in CUSTOMERS
        }
        calls: dict[str, list[datetime]] = {cid: [] for cid in CUSTOMERS}
        for i in session.scalars(select(Interaction).where(Interaction.purpose == "marketing")):
            calls[i.customer_id].append(i.occurred_at)
    earlier_sends: dict[str, list[datetime]] = {cid: [] for cid in CUSTOMERS}
    for key, (message, at) in gateway.sent.items():
        row = by_key[key]
        assert at is not None
        assert row.status == "sent", f"{key} accepted by the gateway but {row.status}"
        if not follows_marketing_rules(row.message_class):
            continue
        cid = row.customer_id
        assert not in_quiet_hours(POLICY, at), f"{key} sent in quiet hours at {at}"
        assert consent_at(consent[cid], at, initial=INITIAL_CONSENT[cid]), f"{key} sent without consent at {at}"
        if message.channel == "sms":
            assert message.body.endswith(POLICY.opt_out_zh)
        # what the window held when this one went: logged calls and the sends before it
        seen = [t for t in calls[cid] if t <= at] + earlier_sends[cid]
        week = sum(1 for t in seen if at - timedelta(days=7) < t <= at)
        month = sum(1 for t in seen if at - timedelta(days=30) < t <= at)
        assert week < POLICY.cap_7d, f"{key} at {at}: {week} touches in 7 days already"
        assert month < POLICY.cap_30d, f"{key} at {at}: {month} touches in 30 days already"
        earlier_sends[cid].append(at)
    marketing = sum(len(v) for v in earlier_sends.values())
    event(f"marketing messages sent: {'none' if not marketing else '1-2' if marketing < 3 else '3+'}")
    for m in by_key.values():
        if m.marketing:
            event(f"marketing message {m.status} {m.status_reason}")
    statuses = {m.status_reason for m in by_key.values() if m.status == "blocked"}
    for reason in sorted(r for r in statuses if r):
        event(f"blocked: {reason}")
