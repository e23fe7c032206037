"""Contact policy and outbox rules applied to the database. Services never commit.

Lifecycle of an automatic message (``tasks.kind = 'message'``):

1. The nightly rule evaluation opens a task. ``enqueue_task_messages`` renders the rule's
   template into an outbox message (idempotency key ``task-<task_id>``) and applies the policy
   as of scheduling: blocked → the task is closed ``cancelled`` with the reason as outcome and
   the message kept as ``blocked`` (the record of what was refused); deferred → the message
   waits until ``next_attempt_at``. The task stays ``open`` while its message is queued.
2. The dispatcher claims due messages and, per message, ``prepare_send`` re-checks the policy
   at send time (consent withdrawn, quiet hours reached, caps filled meanwhile, task closed by
   a person), resolves the recipient from the customer's current contact details, marks the
   message ``sending`` (from then on it counts as a touch) and opens a delivery attempt.
3. After the gateway answered: ``record_sent`` → message ``sent``, task ``done``;
   ``record_failure`` → ``failed`` with a backoff, or ``dead`` after the last attempt or on a
   permanent error (the task is then ``cancelled`` with the error as outcome).
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record_change
from bankcrm.customers.models import ConsentEvent, Customer
from bankcrm.outbox import repository as repo
from bankcrm.outbox.models import CLAIMABLE_STATUSES, DeliveryAttempt, OutboxMessage
from bankcrm.outbox.policy import (
    CHANNELS,
    ContactPolicy,
    Decision,
    MessageClass,
    Verdict,
    classify,
    decide,
    follows_marketing_rules,
    is_opt_out_reply,
    with_opt_out,
)
from bankcrm.outbox.schemas import ConsentEventRead, ConsentRead, DeliveryAttemptRead, OutboxMessageRead
from bankcrm.scores import repository as settings_repo
from bankcrm.security.crypto import FieldCipher
from bankcrm.security.masking import mask_email, mask_phone
from bankcrm.tasks.models import Rule, Task

POLICY_KEY = "contact_policy"
ACTOR = "outbox"
# a task's channel (per tier, from the rule) → the outbox channel that carries it
CHANNEL_ALIASES = {"sms": "sms", "email": "email", "wechat": "wechat", "wecom": "wechat", None: "sms"}
CAP_LOOKBACK = timedelta(days=30)

REASON_TEXT = {
    "zh": {
        "no_consent": "未获营销同意，未发送",
        "frequency_cap": "超过营销频次上限，未发送",
        "expired": "免打扰时段或频次限制导致延迟过久，未发送",
        "task_closed": "任务已关闭，未发送",
        "no_recipient": "客户无该渠道联系方式，未发送",
        "no_channel": "该渠道无发送网关，未发送",
        "sent": "已通过{channel}发送",
        "dead": "发送失败（{attempts}次）：{error}",
    },
    "en": {
        "no_consent": "not sent: no marketing consent",
        "frequency_cap": "not sent: marketing frequency cap",
        "expired": "not sent: held too long by quiet hours or the frequency cap",
        "task_closed": "not sent: the task was closed",
        "no_recipient": "not sent: no contact details for this channel",
        "no_channel": "not sent: no gateway for this channel",
        "sent": "sent by {channel}",
        "dead": "delivery failed after {attempts} attempts: {error}",
    },
}


def outcome_text(reason: str, language: str = "zh", **values: Any) -> str:
    """The task outcome for a reason code, in the customer's language (zh by default)."""
    table = REASON_TEXT.get(language, REASON_TEXT["zh"])
    return table.get(reason, reason).format(**values)


# --- policy settings -------------------------------------------------------------------------


def load_policy(session: Session) -> ContactPolicy:
    """The policy stored in the database, or the defaults."""
    stored = settings_repo.get_setting(session, POLICY_KEY)
    return ContactPolicy.model_validate_json(stored) if stored else ContactPolicy()


def save_policy(session: Session, policy: ContactPolicy, *, actor: Actor) -> None:
    """Store the validated policy and audit the change (before/after) in the same transaction."""
    before = json.loads(load_policy(session).model_dump_json())
    settings_repo.put_setting(session, POLICY_KEY, policy.model_dump_json(), by=actor.name)
    record_change(
        session,
        actor,
        action=AuditAction.CONFIG_CHANGE,
        target_type="setting",
        target_id=POLICY_KEY,
        before=before,
        after=json.loads(policy.model_dump_json()),
    )


# --- consent ---------------------------------------------------------------------------------


def record_consent(
    session: Session,
    customer: Customer | str,
    granted: bool,
    channel: str,
    at: datetime,
    *,
    by: str | None = None,
    note: str | None = None,
) -> ConsentEvent:
    """Record a grant or withdrawal and apply it at once.

    A withdrawal also blocks every marketing message of the customer still waiting in the
    outbox (one a dispatcher is handling right now is caught by its send-time check).
    """
    customer_id = customer if isinstance(customer, str) else customer.customer_id
    row = repo.get_customer(session, customer_id, lock=True)
    if row is None:
        raise LookupError(f"customer {customer_id} not found")
    row.marketing_consent = granted
    row.updated_at = at
    event = ConsentEvent(
        customer_id=customer_id, consent=granted, channel=channel, recorded_at=at, recorded_by=by, note=note
    )
    repo.add_consent_event(session, event)
    if not granted:
        policy = load_policy(session)
        for message_id in repo.unsent_marketing_message_ids(session, customer_id):
            message = repo.get_message(session, message_id)
            if message is not None and message.status in CLAIMABLE_STATUSES and message.claimed_by is None:
                _block(session, message, "no_consent", at, policy)
    return event


def handle_reply(session: Session, customer_id: str, text: str, at: datetime, *, channel: str = "sms") -> bool:
    """An inbound reply: withdraw consent when it is an opt-out word (TD, 退订 …); True when it was."""
    if not is_opt_out_reply(load_policy(session), text):
        return False
    record_consent(session, customer_id, False, channel, at, note="opt-out reply")
    return True


def check_contact(
    session: Session,
    customer_id: str,
    *,
    message_class: MessageClass | str,
    at: datetime,
    policy: ContactPolicy | None = None,
    expires_at: datetime | None = None,
    exclude_message_id: int | None = None,
) -> Decision:
    """May the customer be contacted now? The same check for messages and for a person's marketing call."""
    policy = policy or load_policy(session)
    if not follows_marketing_rules(message_class):
        return Decision.send()
    customer = repo.get_customer(session, customer_id)
    consent = bool(customer and customer.marketing_consent)
    touches = repo.marketing_touch_times(
        session,
        customer_id,
        since=at - CAP_LOOKBACK,
        until=at,
        exclude_message_id=exclude_message_id,
    )
    return decide(policy, message_class=message_class, consent=consent, touches=touches, at=at, expires_at=expires_at)


# --- rendering -------------------------------------------------------------------------------


class _Facts(dict[str, Any]):
    """Template values; an unknown placeholder stays as written instead of failing the message."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """``str.format`` placeholders (``{name}``, ``{amount:,.2f}``) filled from the facts."""
    try:
        return string.Formatter().vformat(template, (), _Facts(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def message_language(task: Task, policy: ContactPolicy) -> str:
    facts = _facts(task)
    language = facts.get("language")
    return language if language in ("zh", "en") else policy.default_language


def _facts(task: Task) -> dict[str, Any]:
    try:
        data = json.loads(task.facts_json or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def render_message(
    rule: Rule | None,
    task: Task,
    customer: Customer,
    *,
    language: str,
    message_class: str,
    channel: str,
    policy: ContactPolicy,
) -> tuple[str | None, str]:
    """Subject (e-mail only) and body in the given language, with the opt-out line where it is required."""
    # the default rules write {name}; {customer_name} is the same value under a clearer name
    values = {
        **_facts(task),
        "name": customer.name,
        "customer_name": customer.name,
        "customer_id": customer.customer_id,
    }
    if rule is not None:
        template = rule.template_en if language == "en" else rule.template_zh
        subject = rule.name_en if language == "en" else rule.name_zh
    else:
        template = str(values.get("message", ""))
        subject = None
    body = with_opt_out(
        policy, render_template(template, values), language=language, channel=channel, message_class=message_class
    )
    return (subject if channel == "email" else None), body


# --- scheduling ------------------------------------------------------------------------------


@dataclass
class EnqueueSummary:
    """What one enqueue pass did."""

    queued: int = 0
    deferred: int = 0
    blocked: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"queued": self.queued, "deferred": self.deferred, "blocked": self.blocked, "reasons": self.reasons}


ENQUEUE_CHUNK = 1000


def enqueue_task_messages(
    session: Session, now: datetime, *, policy: ContactPolicy | None = None, limit: int | None = None
) -> EnqueueSummary:
    """Turn open message tasks without an outbox message into outbox messages, with the policy as of ``now``.

    Works in chunks of tasks with one query per chunk for customers, rules and recent touches,
    so the nightly run can hand over a large batch at once.
    """
    policy = policy or load_policy(session)
    summary = EnqueueSummary()
    done = 0
    while limit is None or done < limit:
        size = ENQUEUE_CHUNK if limit is None else min(ENQUEUE_CHUNK, limit - done)
        tasks = repo.message_tasks_to_enqueue(session, limit=size)
        if not tasks:
            break
        _enqueue_chunk(session, tasks, now, policy, summary)
        session.flush()
        done += len(tasks)
    return summary


def _enqueue_chunk(
    session: Session, tasks: Sequence[Task], now: datetime, policy: ContactPolicy, summary: EnqueueSummary
) -> None:
    rules = repo.rules_by_id(session, [t.rule_id for t in tasks if t.rule_id])
    customer_ids = sorted({t.customer_id for t in tasks})
    customers = repo.customers_by_id(session, customer_ids)
    touches = repo.marketing_touch_times_by_customer(session, customer_ids, since=now - CAP_LOOKBACK, until=now)
    for task in tasks:
        customer = customers[task.customer_id]
        rule = rules.get(task.rule_id) if task.rule_id else None
        message_class = classify(rule_id=task.rule_id, marketing_flag=task.marketing, policy=policy)
        language = message_language(task, policy)
        channel = CHANNEL_ALIASES.get(task.channel, "")
        subject, body = render_message(
            rule,
            task,
            customer,
            language=language,
            message_class=message_class,
            channel=channel or "sms",
            policy=policy,
        )
        marketing = follows_marketing_rules(message_class)
        message = OutboxMessage(
            customer_id=task.customer_id,
            task_id=task.task_id,
            rule_id=task.rule_id,
            channel=channel or str(task.channel),
            message_class=str(message_class),
            marketing=marketing,
            language=language,
            subject=subject,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            expires_at=now + timedelta(hours=policy.max_delay_hours) if marketing else None,
            idempotency_key=f"task-{task.task_id}",
            created_at=now,
            updated_at=now,
        )
        session.add(message)
        if channel not in CHANNELS:
            decision = Decision(Verdict.BLOCK, reason="no_channel")
        else:
            decision = decide(
                policy,
                message_class=message_class,
                consent=customer.marketing_consent,
                touches=touches.get(task.customer_id, []),
                at=now,
                expires_at=message.expires_at,
            )
        if decision.verdict is Verdict.BLOCK:
            reason = str(decision.reason)
            _block(session, message, reason, now, policy, task=task)
            summary.blocked += 1
            summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
        elif decision.verdict is Verdict.DEFER:
            assert decision.not_before is not None
            message.next_attempt_at = decision.not_before
            message.status_reason = decision.reason
            summary.deferred += 1
        else:
            summary.queued += 1


def _block(
    session: Session,
    message: OutboxMessage,
    reason: str,
    at: datetime,
    policy: ContactPolicy,
    *,
    task: Task | None = None,
) -> None:
    message.status = "blocked"
    message.status_reason = reason
    message.claimed_by = None
    message.claimed_at = None
    message.touched_at = None
    message.updated_at = at
    _close_task(session, message, "cancelled", outcome_text(reason, message.language), at, task=task)


def _close_task(
    session: Session, message: OutboxMessage, status: str, outcome: str, at: datetime, *, task: Task | None = None
) -> None:
    if task is None:
        if message.task_id is None:
            return
        task = repo.get_task(session, message.task_id)
    if task is not None and task.status in ("open", "snoozed"):
        repo.close_task(session, task, status=status, outcome=outcome, at=at, actor=ACTOR)


# --- the dispatcher's per-message steps ------------------------------------------------------


@dataclass(frozen=True)
class SendPlan:
    """A message cleared to go: everything the gateway needs, and the attempt to close afterwards."""

    message_id: int
    attempt_id: int
    channel: str
    recipient: str
    subject: str | None
    body: str
    language: str
    idempotency_key: str


def resolve_recipient(customer: Customer, channel: str, cipher: FieldCipher) -> str | None:
    """The customer's current contact for the channel (WeChat messages address the customer by phone)."""
    if channel == "email":
        return cipher.decrypt(customer.email_enc, context="email") if customer.email_enc else None
    return cipher.decrypt(customer.phone_enc, context="phone") if customer.phone_enc else None


def _masked_recipient(channel: str, recipient: str) -> str | None:
    return mask_email(recipient) if channel == "email" else mask_phone(recipient)


def prepare_send(
    session: Session,
    message_id: int,
    *,
    worker: str,
    now: datetime,
    policy: ContactPolicy,
    cipher: FieldCipher,
) -> SendPlan | None:
    """Re-check the policy at send time and mark the message 'sending'; None when it is not to be sent now.

    The first statement renews this worker's lease (and, on SQLite, takes the write lock); the
    customer row is then locked, so the cap count and the 'sending' mark are one step per customer.
    """
    if not repo.renew_claim(session, message_id, worker=worker, now=now):
        return None
    message = repo.get_message(session, message_id)
    if message is None or message.status not in (*CLAIMABLE_STATUSES, "sending"):
        return None
    customer = repo.get_customer(session, message.customer_id, lock=True)
    assert customer is not None
    if message.task_id is not None:
        task = repo.get_task(session, message.task_id)
        if task is not None and task.status not in ("open", "snoozed"):
            _block(session, message, "task_closed", now, policy)
            return None
    if message.status == "sending":
        # a dispatcher was killed after handing the message over; its attempt's result is unknown
        stale = repo.open_attempt(session, message.id)
        if stale is not None:
            stale.outcome = "failed"
            stale.finished_at = now
            stale.error = "interrupted: the dispatcher stopped before recording the result"
    decision = check_contact(
        session,
        message.customer_id,
        message_class=message.message_class,
        at=now,
        policy=policy,
        expires_at=message.expires_at,
        exclude_message_id=message.id,
    )
    if decision.verdict is Verdict.BLOCK:
        _block(session, message, str(decision.reason), now, policy)
        return None
    if decision.verdict is Verdict.DEFER:
        assert decision.not_before is not None
        message.status = "pending"
        message.status_reason = decision.reason
        message.next_attempt_at = decision.not_before
        message.touched_at = None
        message.claimed_by = None
        message.claimed_at = None
        message.updated_at = now
        return None
    recipient = resolve_recipient(customer, message.channel, cipher)
    if not recipient:
        _block(session, message, "no_recipient", now, policy)
        return None
    message.status = "sending"
    message.status_reason = None
    message.attempts += 1
    message.touched_at = now
    message.updated_at = now
    attempt = repo.add_attempt(
        session,
        DeliveryAttempt(
            message_id=message.id,
            attempt_no=message.attempts,
            worker=worker,
            recipient_masked=_masked_recipient(message.channel, recipient),
            started_at=now,
            outcome="sending",
        ),
    )
    return SendPlan(
        message_id=message.id,
        attempt_id=attempt.id,
        channel=message.channel,
        recipient=recipient,
        subject=message.subject,
        body=message.body,
        language=message.language,
        idempotency_key=message.idempotency_key,
    )


def record_sent(
    session: Session,
    message_id: int,
    *,
    gateway_message_id: str,
    now: datetime,
    attempt_id: int | None = None,
    worker: str | None = None,
    reconciled: bool = False,
) -> None:
    """The gateway accepted the message (or already had it, found on restart): sent, and the task done."""
    message = repo.get_message(session, message_id)
    if message is None or message.status == "sent":
        return
    message.status = "sent"
    message.status_reason = None
    message.sent_at = now
    message.touched_at = message.touched_at or now
    message.gateway_message_id = gateway_message_id
    message.last_error = None
    message.claimed_by = None
    message.claimed_at = None
    message.updated_at = now
    if reconciled:
        stale = repo.open_attempt(session, message.id)
        if stale is not None:
            stale.outcome = "reconciled"
            stale.finished_at = now
            stale.gateway_message_id = gateway_message_id
        else:
            repo.add_attempt(
                session,
                DeliveryAttempt(
                    message_id=message.id,
                    attempt_no=message.attempts,
                    worker=worker or ACTOR,
                    started_at=now,
                    finished_at=now,
                    outcome="reconciled",
                    gateway_message_id=gateway_message_id,
                ),
            )
    elif attempt_id is not None:
        attempt = session.get(DeliveryAttempt, attempt_id)
        if attempt is not None:
            attempt.outcome = "sent"
            attempt.finished_at = now
            attempt.gateway_message_id = gateway_message_id
    _close_task(session, message, "done", outcome_text("sent", message.language, channel=message.channel), now)


def backoff_delay(attempts: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """Exponential backoff: base, 2×base, 4×base … capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * (2 ** max(0, attempts - 1))))


def record_failure(
    session: Session,
    message_id: int,
    *,
    error: str,
    permanent: bool,
    now: datetime,
    attempt_id: int | None,
    max_attempts: int,
    base_seconds: float,
    max_seconds: float,
) -> str:
    """A failed hand-over: retried after a backoff, or dead (task cancelled) when out of attempts; the new status."""
    message = repo.get_message(session, message_id)
    if message is None or message.status in ("sent", "blocked", "dead"):
        return message.status if message else "missing"
    dead = permanent or message.attempts >= max_attempts
    message.last_error = error[:2000]
    message.touched_at = None
    message.claimed_by = None
    message.claimed_at = None
    message.updated_at = now
    if attempt_id is not None:
        attempt = session.get(DeliveryAttempt, attempt_id)
        if attempt is not None:
            attempt.outcome = "dead" if dead else "failed"
            attempt.finished_at = now
            attempt.error = error[:2000]
    if dead:
        message.status = "dead"
        message.status_reason = "permanent" if permanent else "max_attempts"
        outcome = outcome_text("dead", message.language, attempts=message.attempts, error=error[:200])
        _close_task(session, message, "cancelled", outcome, now)
        return "dead"
    message.status = "failed"
    message.next_attempt_at = now + backoff_delay(message.attempts, base_seconds=base_seconds, max_seconds=max_seconds)
    return "failed"


def message_status(session: Session, message_id: int) -> tuple[str, str] | None:
    """(status, idempotency key) of a message, for the dispatcher's reconciliation."""
    message = repo.get_message(session, message_id)
    return (message.status, message.idempotency_key) if message else None


# --- reading -----------------------------------------------------------------------------------


def customer_messages(session: Session, customer_id: str) -> list[OutboxMessageRead]:
    """The customer's automatic messages, oldest first (bodies as sent; recipients never stored)."""
    return [OutboxMessageRead.model_validate(m) for m in repo.list_messages(session, customer_id=customer_id)]


def message_attempts(session: Session, message_id: int) -> list[DeliveryAttemptRead]:
    return [DeliveryAttemptRead.model_validate(a) for a in repo.attempts_of(session, message_id)]


def consent_of(session: Session, customer_id: str) -> ConsentRead:
    """Current marketing consent and every recorded grant or withdrawal."""
    customer = repo.get_customer(session, customer_id)
    if customer is None:
        raise LookupError(f"customer {customer_id} not found")
    return ConsentRead(
        customer_id=customer_id,
        marketing_consent=customer.marketing_consent,
        history=[ConsentEventRead.model_validate(e) for e in repo.consent_history(session, customer_id)],
    )
