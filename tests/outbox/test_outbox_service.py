"""Consent history, scheduling-time policy and the task lifecycle of automatic messages."""

from __future__ import annotations

import json
from datetime import timedelta

from outbox_bank import Bank, add_message_task, log_marketing_call, sh
from sqlalchemy import select

from bankcrm.audit.service import Actor
from bankcrm.customers.models import ConsentEvent, Customer
from bankcrm.db.engine import session_scope
from bankcrm.outbox import repository as repo
from bankcrm.outbox import service
from bankcrm.outbox.policy import ContactPolicy, Verdict
from bankcrm.tasks.models import Task, TaskEvent


def test_record_consent_keeps_history_and_applies_at_once(bank: Bank) -> None:
    t0 = sh(2026, 11, 26, 10)
    with session_scope(bank.factory) as s:
        service.record_consent(s, "C2", True, "branch", t0, by="S1")
        service.record_consent(s, "C2", False, "sms", t0 + timedelta(hours=1), note="opt-out reply")
    with session_scope(bank.factory) as s:
        events = repo.consent_history(s, "C2")
        assert [(e.consent, e.channel) for e in events] == [(True, "branch"), (False, "sms")]
        assert events[1].recorded_at == t0 + timedelta(hours=1)
        assert s.get(Customer, "C2").marketing_consent is False  # type: ignore[union-attr]
        read = service.consent_of(s, "C2")
        assert read.marketing_consent is False
        assert [(h.consent, h.channel, h.recorded_by) for h in read.history] == [
            (True, "branch", "S1"),
            (False, "sms", None),
        ]


def test_withdrawal_blocks_waiting_marketing_messages_but_not_service(bank: Bank) -> None:
    now = sh(2026, 11, 26, 22, 0)  # quiet hours: the marketing message waits
    with session_scope(bank.factory) as s:
        add_message_task(s, "C1", "need_salary_plan", at=now)
        add_message_task(s, "C1", "repayment_due", at=now, facts={"amount": 1234.5, "due_on": "2026-11-28"})
        service.enqueue_task_messages(s, now)
    with session_scope(bank.factory) as s:
        assert service.handle_reply(s, "C1", "TD", now + timedelta(minutes=5))
        assert not service.handle_reply(s, "C1", "thanks", now + timedelta(minutes=6))
    with session_scope(bank.factory) as s:
        by_rule = {m.rule_id: m for m in repo.list_messages(s, customer_id="C1")}
        assert by_rule["need_salary_plan"].status == "blocked"
        assert by_rule["need_salary_plan"].status_reason == "no_consent"
        assert by_rule["repayment_due"].status == "pending"
        task = s.get(Task, by_rule["need_salary_plan"].task_id)
        assert task is not None and task.status == "cancelled" and task.outcome == "未获营销同意，未发送"
        last = s.scalars(select(ConsentEvent).where(ConsentEvent.customer_id == "C1")).all()[-1]
        assert (last.consent, last.channel) == (False, "sms")


def test_enqueue_renders_and_applies_policy(bank: Bank) -> None:
    now = sh(2026, 11, 26, 10, 0)
    with session_scope(bank.factory) as s:
        ok = add_message_task(s, "C1", "need_salary_plan", at=now)
        no_consent = add_message_task(s, "C2", "need_salary_plan", at=now)
        service_msg = add_message_task(
            s, "C2", "repayment_due", at=now, facts={"amount": 1234567.891, "due_on": "2026-11-28", "language": "en"}
        )
        email = add_message_task(s, "C3", "birthday", channel="email", at=now)
        unknown = add_message_task(s, "C3", "need_salary_plan", channel="fax", at=now)
        summary = service.enqueue_task_messages(s, now)
    assert summary.to_dict() == {
        "queued": 3,
        "deferred": 0,
        "blocked": 2,
        "reasons": {"no_consent": 1, "no_channel": 1},
    }
    with session_scope(bank.factory) as s:
        msgs = {m.task_id: m for m in repo.list_messages(s)}
        assert msgs[ok.task_id].body == "王芳您好，为您推荐工资理财计划。回复TD退订"
        assert msgs[ok.task_id].marketing and msgs[ok.task_id].message_class == "marketing"
        assert msgs[ok.task_id].idempotency_key == f"task-{ok.task_id}"
        assert msgs[service_msg.task_id].body == "Your repayment of 1,234,567.89 is due 2026-11-28."
        assert not msgs[service_msg.task_id].marketing
        assert msgs[email.task_id].subject == "birthday" and msgs[email.task_id].message_class == "care"
        assert msgs[email.task_id].body == "王芳，祝您生日快乐！"  # no opt-out line outside SMS
        assert msgs[no_consent.task_id].status == "blocked"
        assert msgs[unknown.task_id].status_reason == "no_channel"
        t = s.get(Task, no_consent.task_id)
        assert t is not None and (t.status, t.closed_by) == ("cancelled", "outbox")
        assert s.get(Task, ok.task_id).status == "open"  # type: ignore[union-attr]
        events = s.scalars(select(TaskEvent).where(TaskEvent.task_id == no_consent.task_id)).all()
        assert [e.action for e in events] == ["cancelled"]
        shown = service.customer_messages(s, "C1")
        assert [m.status for m in shown] == ["pending"] and shown[0].body.endswith("回复TD退订")
        # a second pass finds nothing new
        assert service.enqueue_task_messages(s, now).to_dict()["queued"] == 0


def test_enqueue_defers_in_quiet_hours_and_over_the_cap(bank: Bank) -> None:
    night = sh(2026, 11, 26, 21, 0)
    with session_scope(bank.factory) as s:
        quiet = add_message_task(s, "C1", "need_salary_plan", at=night)
        log_marketing_call(s, "C3", night - timedelta(days=2))
        log_marketing_call(s, "C3", night - timedelta(days=1, hours=10))
        capped = add_message_task(s, "C3", "need_salary_plan", at=night)
        urgent = add_message_task(s, "C3", "repayment_due", at=night, facts={"amount": 1, "due_on": "x"})
        summary = service.enqueue_task_messages(s, night)
    assert (summary.queued, summary.deferred, summary.blocked) == (1, 2, 0)
    with session_scope(bank.factory) as s:
        msgs = {m.task_id: m for m in repo.list_messages(s)}
        assert msgs[quiet.task_id].next_attempt_at == sh(2026, 11, 27, 9, 0)
        # the older call leaves the 7-day window at 21:00 on 1 December, in quiet hours: 09:00 next day
        assert msgs[capped.task_id].next_attempt_at == sh(2026, 12, 2, 9, 0)
        assert msgs[urgent.task_id].next_attempt_at == night  # service: no quiet hours, no caps


def test_policy_is_stored_in_the_database_with_defaults_in_code(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        assert service.load_policy(s) == ContactPolicy()
        service.save_policy(s, ContactPolicy(cap_7d=1, cap_30d=3), actor=Actor.cli())
    with session_scope(bank.factory) as s:
        policy = service.load_policy(s)
        assert (policy.cap_7d, policy.cap_30d) == (1, 3)
        log_marketing_call(s, "C1", sh(2026, 11, 25, 10))
        d = service.check_contact(s, "C1", message_class="marketing", at=sh(2026, 11, 26, 10))
        assert d.verdict is Verdict.DEFER
        assert d.not_before == sh(2026, 12, 2, 10)
        assert service.check_contact(s, "C2", message_class="service", at=sh(2026, 11, 26, 23)).verdict is Verdict.SEND


def test_render_template_survives_missing_and_bad_placeholders() -> None:
    assert service.render_template("您好{customer_name}，{missing}", {"customer_name": "王"}) == "您好王，{missing}"
    assert service.render_template("{amount:,.2f}", {"amount": "not a number"}) == "{amount:,.2f}"
    assert json.loads("{}") == {}
