"""The dispatcher in process: send-time policy, recipient at send time, retries, dead letters, leases, restarts."""

from __future__ import annotations

from datetime import timedelta

from outbox_bank import Bank, add_message_task, log_marketing_call, sh

from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_scope
from bankcrm.outbox import repository as repo
from bankcrm.outbox import service
from bankcrm.outbox.gateways import GatewayError
from bankcrm.outbox.models import OutboxMessage
from bankcrm.outbox.policy import ContactPolicy
from bankcrm.tasks.models import Task


def _enqueue(bank: Bank, *specs: tuple[str, str]) -> list[int]:
    with session_scope(bank.factory) as s:
        facts = {"amount": 5, "due_on": "d"}
        tasks = [add_message_task(s, cid, rule, at=bank.clock(), facts=facts) for cid, rule in specs]
        service.enqueue_task_messages(s, bank.clock())
        return [t.task_id for t in tasks]


def _messages(bank: Bank) -> dict[int | None, OutboxMessage]:
    with session_scope(bank.factory) as s:
        return {m.task_id: m for m in repo.list_messages(s)}


def test_send_closes_the_task_and_resolves_the_recipient_at_send_time(bank: Bank) -> None:
    (task_id,) = _enqueue(bank, ("C1", "need_salary_plan"))
    with session_scope(bank.factory) as s:  # the customer's phone changes after the message was queued
        c = s.get(Customer, "C1")
        assert c is not None
        c.phone_enc = bank.cipher.encrypt("13912345678", context="phone") or ""
    summary = bank.dispatcher().drain()
    assert (summary.claimed, summary.sent) == (1, 1)
    sent, _ = bank.gateway.sent[f"task-{task_id}"]
    assert sent.recipient == "13912345678"
    assert sent.body.endswith("回复TD退订")
    with session_scope(bank.factory) as s:
        msg = repo.list_messages(s)[0]
        assert (msg.status, msg.attempts, msg.gateway_message_id) == ("sent", 1, f"gw-task-{task_id}")
        assert msg.sent_at == bank.clock() and msg.claimed_by is None
        (attempt,) = service.message_attempts(s, msg.id)
        assert (attempt.outcome, attempt.recipient_masked) == ("sent", "139****5678")
        task = s.get(Task, task_id)
        assert task is not None and (task.status, task.outcome) == ("done", "已通过sms发送")
    assert bank.dispatcher().drain().claimed == 0


def test_consent_withdrawn_after_scheduling_is_honoured_at_send_time(bank: Bank) -> None:
    (task_id,) = _enqueue(bank, ("C1", "need_salary_plan"))
    with session_scope(bank.factory) as s:
        c = s.get(Customer, "C1")
        assert c is not None
        c.marketing_consent = False  # e.g. changed by an extract load, not through record_consent
    bank.dispatcher().drain()
    assert bank.gateway.sent == {}
    msg = _messages(bank)[task_id]
    assert (msg.status, msg.status_reason, msg.touched_at) == ("blocked", "no_consent", None)


def test_quiet_hours_reached_between_scheduling_and_sending(bank: Bank) -> None:
    bank.clock.now = sh(2026, 11, 26, 20, 59)
    (task_id,) = _enqueue(bank, ("C1", "need_salary_plan"))
    assert _messages(bank)[task_id].next_attempt_at == sh(2026, 11, 26, 20, 59)
    bank.clock.now = sh(2026, 11, 26, 21, 0)
    summary = bank.dispatcher().drain()
    assert (summary.claimed, summary.sent, summary.deferred_or_blocked) == (1, 0, 1)
    msg = _messages(bank)[task_id]
    assert (msg.status, msg.next_attempt_at, msg.claimed_by) == ("pending", sh(2026, 11, 27, 9, 0), None)
    bank.clock.now = sh(2026, 11, 27, 8, 59)
    assert bank.dispatcher().drain().claimed == 0
    bank.clock.now = sh(2026, 11, 27, 9, 0)
    assert bank.dispatcher().drain().sent == 1
    _, at = bank.gateway.sent[f"task-{task_id}"]
    assert at == sh(2026, 11, 27, 9, 0)


def test_caps_hold_at_send_time_across_channels_and_logged_calls(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        log_marketing_call(s, "C1", bank.clock() - timedelta(days=1))
    ids = _enqueue(bank, ("C1", "need_salary_plan"), ("C1", "birthday"), ("C1", "repayment_due"))
    summary = bank.dispatcher().drain()
    assert summary.sent == 2  # one marketing (the cap is 2 with the call) and the service reminder
    msgs = _messages(bank)
    statuses = sorted(msgs[i].status for i in ids)
    assert statuses == ["pending", "sent", "sent"]
    waiting = next(m for m in msgs.values() if m.status == "pending")
    assert waiting.next_attempt_at == bank.clock() + timedelta(days=6)


def test_task_closed_by_a_person_is_not_sent(bank: Bank) -> None:
    (task_id,) = _enqueue(bank, ("C1", "repayment_due"))
    with session_scope(bank.factory) as s:
        t = s.get(Task, task_id)
        assert t is not None
        t.status = "cancelled"
    bank.dispatcher().drain()
    assert bank.gateway.sent == {}
    assert _messages(bank)[task_id].status_reason == "task_closed"


def test_retries_back_off_exponentially_then_succeed(bank: Bank) -> None:
    (task_id,) = _enqueue(bank, ("C2", "repayment_due"))
    bank.gateway.fail_next = [GatewayError("timeout"), GatewayError("timeout")]
    d = bank.dispatcher(backoff_seconds=60, backoff_max_seconds=3600, max_attempts=5)
    start = bank.clock()
    assert d.drain().failed == 1
    msg = _messages(bank)[task_id]
    assert (msg.status, msg.attempts, msg.next_attempt_at, msg.last_error) == (
        "failed",
        1,
        start + timedelta(seconds=60),
        "timeout",
    )
    assert msg.touched_at is None
    bank.clock.advance(seconds=59)
    assert d.drain().claimed == 0
    bank.clock.advance(seconds=1)
    assert d.drain().failed == 1
    assert _messages(bank)[task_id].next_attempt_at == bank.clock() + timedelta(seconds=120)
    bank.clock.advance(seconds=120)
    assert d.drain().sent == 1
    with session_scope(bank.factory) as s:
        msg = repo.list_messages(s)[0]
        assert (msg.status, msg.attempts) == ("sent", 3)
        assert [a.outcome for a in repo.attempts_of(s, msg.id)] == ["failed", "failed", "sent"]


def test_dead_after_max_attempts_and_on_permanent_errors(bank: Bank) -> None:
    first, second = _enqueue(bank, ("C2", "repayment_due"), ("C3", "repayment_due"))
    bank.gateway.fail_next = [GatewayError("down"), GatewayError("bad number", permanent=True), GatewayError("down")]
    d = bank.dispatcher(backoff_seconds=10, backoff_max_seconds=15, max_attempts=2)
    summary = d.drain()
    assert (summary.failed, summary.dead) == (1, 1)
    bank.clock.advance(seconds=10)
    assert d.drain().dead == 1
    msgs = _messages(bank)
    assert (msgs[first].status, msgs[first].attempts, msgs[first].status_reason) == ("dead", 2, "max_attempts")
    assert (msgs[second].status, msgs[second].status_reason) == ("dead", "permanent")
    with session_scope(bank.factory) as s:
        t = s.get(Task, first)
        assert t is not None and t.status == "cancelled" and "down" in (t.outcome or "")
    bank.clock.advance(days=1)
    assert d.drain().claimed == 0


def test_lease_keeps_other_workers_off_until_it_runs_out(bank: Bank) -> None:
    _enqueue(bank, ("C2", "repayment_due"))
    w1 = bank.dispatcher(worker="w1", lease_seconds=60)
    w2 = bank.dispatcher(worker="w2", lease_seconds=60)
    assert len(w1.claim()) == 1  # w1 dies right after claiming
    assert w2.claim() == []
    bank.clock.advance(seconds=61)
    assert w2.drain().sent == 1
    assert w1.run_batch().sent == 0  # w1 coming back finds nothing of its own


def test_restart_after_a_kill_between_hand_over_and_record(bank: Bank) -> None:
    """Killed after the gateway accepted: the next run records it sent without a second send."""
    a, b = _enqueue(bank, ("C2", "repayment_due"), ("C3", "repayment_due"))
    w1 = bank.dispatcher(worker="w1", lease_seconds=30)
    ids = w1.claim()
    plans = []
    with session_scope(bank.factory) as s:
        for message_id in ids:
            plan = service.prepare_send(
                s, message_id, worker="w1", now=bank.clock(), policy=ContactPolicy(), cipher=bank.cipher
            )
            assert plan is not None
            plans.append(plan)
    # message a reached the gateway, message b did not; then the process died
    from bankcrm.outbox.gateways import OutgoingMessage

    bank.gateway.send(OutgoingMessage(plans[0].idempotency_key, "sms", plans[0].recipient, plans[0].body))
    assert {m.status for m in _messages(bank).values()} == {"sending"}
    calls = bank.gateway.calls
    w2 = bank.dispatcher(worker="w2", lease_seconds=30)
    assert w2.drain().claimed == 0  # the lease still holds
    bank.clock.advance(seconds=31)
    summary = w2.drain()
    assert (summary.reconciled, summary.sent) == (1, 1)
    assert bank.gateway.calls == calls + 1  # only b was handed over again
    msgs = _messages(bank)
    assert msgs[a].status == msgs[b].status == "sent"
    with session_scope(bank.factory) as s:
        assert [x.outcome for x in repo.attempts_of(s, msgs[a].id)] == ["reconciled"]
        assert [x.outcome for x in repo.attempts_of(s, msgs[b].id)] == ["failed", "sent"]
        assert msgs[b].attempts == 2
