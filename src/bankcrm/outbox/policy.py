"""The contact policy of SPEC 5.2 as pure functions: no database, no clock, times passed in.

A *touch* is one marketing contact: a marketing or care message handed to a gateway, or a
logged interaction whose purpose is ``marketing``. The caps count touches in trailing windows
``(t − 7 days, t]`` and ``(t − 30 days, t]`` across all channels, the new one included, so a
touch exactly seven days old no longer counts.

Message classes:

- ``service`` — maturity and repayment reminders, overdue notices, security and fraud alerts.
  They serve the customer's contract or safety: no consent needed, no caps, no quiet hours.
- ``care`` — birthday and festival greetings. They are not needed for any contract, so they
  follow every marketing rule (consent, quiet hours, caps, the opt-out line); an RM's own
  phone call on a birthday is a task, not a message, and is not affected.
- ``marketing`` — everything else a rule flags as marketing (offers, needs-mining pushes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

CHANNELS = ("sms", "email", "wechat")


class MessageClass(StrEnum):
    SERVICE = "service"
    CARE = "care"
    MARKETING = "marketing"


class Verdict(StrEnum):
    SEND = "send"
    DEFER = "defer"
    BLOCK = "block"


class BlockReason(StrEnum):
    """Why a message was refused; the text the task's outcome carries."""

    NO_CONSENT = "no_consent"
    FREQUENCY_CAP = "frequency_cap"
    EXPIRED = "expired"


class ContactPolicy(BaseModel):
    """The configurable part of the policy; defaults are the SPEC's numbers."""

    timezone: str = "Asia/Shanghai"
    quiet_start: time = Field(default=time(21, 0), description="quiet hours begin (local time)")
    quiet_end: time = Field(default=time(9, 0), description="quiet hours end (local time)")
    cap_7d: int = Field(default=2, ge=0, description="marketing touches per customer per 7 days")
    cap_30d: int = Field(default=6, ge=0, description="marketing touches per customer per 30 days")
    # a marketing message deferred (quiet hours, caps) beyond this age is blocked as expired
    max_delay_hours: int = Field(default=168, ge=1)
    # rules whose messages are care greetings (treated like marketing), and always-service rules
    care_rule_ids: list[str] = Field(default_factory=lambda: ["birthday", "festival"])
    service_rule_ids: list[str] = Field(
        default_factory=lambda: ["maturity", "repayment_due", "overdue", "large_outflow", "nav_move"]
    )
    default_language: str = "zh"
    opt_out_zh: str = "回复TD退订"
    opt_out_en: str = "Reply TD to opt out"
    # words an inbound SMS reply may carry to withdraw consent (case-insensitive, whole message)
    opt_out_words: list[str] = Field(default_factory=lambda: ["TD", "T", "退订", "STOP", "UNSUBSCRIBE"])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in ("zh", "en"):
            raise ValueError("expected zh or en")
        return value

    @model_validator(mode="after")
    def _caps_consistent(self) -> ContactPolicy:
        if self.cap_30d < self.cap_7d:
            raise ValueError("cap_30d must be at least cap_7d")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Decision:
    """What to do with a message now: send, defer until ``not_before``, or block with a reason."""

    verdict: Verdict
    not_before: datetime | None = None
    reason: str | None = None

    @classmethod
    def send(cls) -> Decision:
        return cls(Verdict.SEND)


def classify(*, rule_id: str | None, marketing_flag: bool, policy: ContactPolicy) -> MessageClass:
    """Care for greeting rules, service for the listed service rules, else by the rule's marketing flag."""
    if rule_id in policy.care_rule_ids:
        return MessageClass.CARE
    if rule_id in policy.service_rule_ids:
        return MessageClass.SERVICE
    return MessageClass.MARKETING if marketing_flag else MessageClass.SERVICE


def follows_marketing_rules(message_class: MessageClass | str) -> bool:
    return MessageClass(message_class) is not MessageClass.SERVICE


def in_quiet_hours(policy: ContactPolicy, at: datetime) -> bool:
    """Quiet from ``quiet_start`` (inclusive) to ``quiet_end`` (exclusive), local time; may wrap midnight."""
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    local = at.astimezone(policy.zone).timetz().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed_time(policy: ContactPolicy, at: datetime) -> datetime:
    """``at`` itself outside quiet hours, else the end of the quiet period it falls in."""
    if not in_quiet_hours(policy, at):
        return at
    zone = policy.zone
    local = at.astimezone(zone)
    end_today = datetime.combine(local.date(), policy.quiet_end, tzinfo=zone)
    candidate = end_today if end_today > local else end_today + timedelta(days=1)
    return candidate.astimezone(at.tzinfo)


def _free_after(touches: Sequence[datetime], at: datetime, window: timedelta, cap: int) -> datetime | None:
    """None when one more touch at ``at`` fits the window; else the first time it would."""
    if cap <= 0:
        raise ValueError("a cap of 0 allows no touch at all")
    recent = sorted(t for t in touches if at - window < t <= at)
    if len(recent) < cap:
        return None
    # the oldest (len − cap + 1) touches must leave the window: the last of them leaves at t + window
    return recent[len(recent) - cap] + window


def cap_free_time(policy: ContactPolicy, touches: Iterable[datetime], at: datetime) -> datetime | None:
    """None when a touch at ``at`` keeps both caps; else the earliest time it would (touches only age)."""
    items = list(touches)
    waits = [
        w
        for w in (
            _free_after(items, at, timedelta(days=7), policy.cap_7d),
            _free_after(items, at, timedelta(days=30), policy.cap_30d),
        )
        if w is not None
    ]
    return max(waits) if waits else None


def decide(
    policy: ContactPolicy,
    *,
    message_class: MessageClass | str,
    consent: bool,
    touches: Iterable[datetime],
    at: datetime,
    expires_at: datetime | None = None,
) -> Decision:
    """Apply consent, quiet hours and caps to one message at ``at`` (scheduling and sending alike).

    Service messages always go. For the others, no consent blocks; quiet hours and a full cap
    defer to the first time both allow (caps first, then quiet hours, then the caps again —
    touches only ever age out, so the loop ends); a message that would wait beyond
    ``expires_at`` is blocked as expired.
    """
    if not follows_marketing_rules(message_class):
        return Decision.send()
    if not consent:
        return Decision(Verdict.BLOCK, reason=BlockReason.NO_CONSENT)
    if policy.cap_7d == 0 or policy.cap_30d == 0:
        return Decision(Verdict.BLOCK, reason=BlockReason.FREQUENCY_CAP)
    items = list(touches)
    when = at
    capped = False
    for _ in range(64):
        free = cap_free_time(policy, items, when)
        if free is not None:
            capped = True
            when = free
        allowed = next_allowed_time(policy, when)
        if allowed == when and free is None:
            break
        when = allowed
        if expires_at is not None and when > expires_at:
            break
    if expires_at is not None and when > expires_at:
        return Decision(Verdict.BLOCK, reason=BlockReason.EXPIRED)
    if when == at:
        return Decision.send()
    return Decision(Verdict.DEFER, not_before=when, reason="cap" if capped else "quiet_hours")


def with_opt_out(policy: ContactPolicy, body: str, *, language: str, channel: str, message_class: str) -> str:
    """The body with the opt-out instruction appended to every marketing or care SMS (once)."""
    if channel != "sms" or not follows_marketing_rules(message_class):
        return body
    line = policy.opt_out_en if language == "en" else policy.opt_out_zh
    if body.rstrip().endswith(line):
        return body
    sep = " " if language == "en" else ""
    return f"{body.rstrip()}{sep}{line}"


def is_opt_out_reply(policy: ContactPolicy, text: str) -> bool:
    """An inbound reply that withdraws consent: one of the opt-out words and nothing else."""
    cleaned = text.strip().strip("。.!！").strip().upper()
    return cleaned in {w.upper() for w in policy.opt_out_words}


def consent_at(history: Iterable[tuple[datetime, bool]], at: datetime, *, initial: bool = False) -> bool:
    """The consent in force at ``at`` from (time, granted) events; a withdrawal counts from its instant."""
    state = initial
    for when, granted in sorted(history, key=lambda e: e[0]):
        if when > at:
            break
        state = granted
    return state
