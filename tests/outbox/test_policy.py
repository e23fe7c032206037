"""The contact policy as pure rules: quiet-hour edges, the 7- and 30-day windows, classes, opt-out text."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from outbox_bank import sh
from pydantic import ValidationError

from bankcrm.outbox.policy import (
    BlockReason,
    ContactPolicy,
    MessageClass,
    Verdict,
    cap_free_time,
    classify,
    consent_at,
    decide,
    in_quiet_hours,
    is_opt_out_reply,
    next_allowed_time,
    with_opt_out,
)

P = ContactPolicy()


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(20, 59, False), (21, 0, True), (23, 59, True), (0, 0, True), (8, 59, True), (9, 0, False), (12, 0, False)],
)
def test_quiet_hours_edges_in_shanghai(hour: int, minute: int, quiet: bool) -> None:
    assert in_quiet_hours(P, sh(2026, 11, 26, hour, minute)) is quiet


def test_quiet_hours_follow_shanghai_not_utc() -> None:
    # 13:00 UTC is 21:00 in Shanghai
    at = sh(2026, 11, 26, 21, 0)
    assert at.hour == 13
    assert in_quiet_hours(P, at)


def test_next_allowed_time_is_the_end_of_the_quiet_period() -> None:
    assert next_allowed_time(P, sh(2026, 11, 26, 20, 59)) == sh(2026, 11, 26, 20, 59)
    assert next_allowed_time(P, sh(2026, 11, 26, 21, 0)) == sh(2026, 11, 27, 9, 0)
    assert next_allowed_time(P, sh(2026, 11, 26, 23, 30)) == sh(2026, 11, 27, 9, 0)
    assert next_allowed_time(P, sh(2026, 11, 27, 0, 0)) == sh(2026, 11, 27, 9, 0)
    assert next_allowed_time(P, sh(2026, 11, 27, 8, 59)) == sh(2026, 11, 27, 9, 0)
    assert next_allowed_time(P, sh(2026, 11, 27, 9, 0)) == sh(2026, 11, 27, 9, 0)


def test_configurable_quiet_hours_inside_one_day_and_off() -> None:
    lunch = ContactPolicy(quiet_start=time(12, 0), quiet_end=time(14, 0))
    assert not in_quiet_hours(lunch, sh(2026, 11, 26, 11, 59))
    assert in_quiet_hours(lunch, sh(2026, 11, 26, 12, 0))
    assert not in_quiet_hours(lunch, sh(2026, 11, 26, 14, 0))
    assert next_allowed_time(lunch, sh(2026, 11, 26, 13, 0)) == sh(2026, 11, 26, 14, 0)
    off = ContactPolicy(quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert not in_quiet_hours(off, sh(2026, 11, 26, 3, 0))


def test_seven_day_window_excludes_a_touch_exactly_seven_days_old() -> None:
    now = sh(2026, 11, 26, 10, 0)
    two = [now - timedelta(days=7), now - timedelta(days=1)]
    assert cap_free_time(P, two, now) is None  # the first one just left the window
    two_inside = [now - timedelta(days=7) + timedelta(seconds=1), now - timedelta(days=1)]
    assert cap_free_time(P, two_inside, now) == now + timedelta(seconds=1)


def test_seven_day_cap_defers_until_the_oldest_touch_leaves() -> None:
    now = sh(2026, 11, 26, 10, 0)
    touches = [now - timedelta(days=3), now - timedelta(days=1)]
    d = decide(P, message_class="marketing", consent=True, touches=touches, at=now)
    assert d.verdict is Verdict.DEFER
    assert d.not_before == now + timedelta(days=4)


def test_thirty_day_cap() -> None:
    now = sh(2026, 11, 26, 10, 0)
    # six touches spread over the last 30 days, none in the last 7 days except one
    touches = [now - timedelta(days=d) for d in (29, 25, 20, 15, 10, 2)]
    d = decide(P, message_class="marketing", consent=True, touches=touches, at=now)
    assert d.verdict is Verdict.DEFER
    assert d.not_before == now + timedelta(days=1)  # the 29-day-old touch leaves the 30-day window
    # five touches: one more fits
    assert decide(P, message_class="marketing", consent=True, touches=touches[1:], at=now).verdict is Verdict.SEND
    # exactly 30 days old does not count
    edge = [now - timedelta(days=30), *touches[1:]]
    assert decide(P, message_class="marketing", consent=True, touches=edge, at=now).verdict is Verdict.SEND


def test_cap_deferral_lands_outside_quiet_hours() -> None:
    now = sh(2026, 11, 26, 10, 0)
    # the oldest touch was at 22:30 six days ago (a logged call): it leaves at 22:30 tomorrow, in quiet hours
    touches = [sh(2026, 11, 20, 22, 30), now - timedelta(hours=1)]
    d = decide(P, message_class="marketing", consent=True, touches=touches, at=now)
    assert d.verdict is Verdict.DEFER
    assert d.not_before == sh(2026, 11, 28, 9, 0)


def test_quiet_hours_defer_and_expiry_blocks() -> None:
    at = sh(2026, 11, 26, 22, 0)
    d = decide(P, message_class="marketing", consent=True, touches=[], at=at)
    assert (d.verdict, d.not_before, d.reason) == (Verdict.DEFER, sh(2026, 11, 27, 9, 0), "quiet_hours")
    d = decide(P, message_class="care", consent=True, touches=[], at=at, expires_at=sh(2026, 11, 27, 8, 0))
    assert (d.verdict, d.reason) == (Verdict.BLOCK, BlockReason.EXPIRED)


def test_no_consent_blocks_marketing_and_care_but_not_service() -> None:
    at = sh(2026, 11, 26, 23, 0)
    for cls in ("marketing", "care"):
        d = decide(P, message_class=cls, consent=False, touches=[], at=at)
        assert (d.verdict, d.reason) == (Verdict.BLOCK, BlockReason.NO_CONSENT)
    many = [at - timedelta(hours=h) for h in range(1, 10)]
    assert decide(P, message_class="service", consent=False, touches=many, at=at).verdict is Verdict.SEND


def test_zero_cap_blocks() -> None:
    policy = ContactPolicy(cap_7d=0, cap_30d=0)
    d = decide(policy, message_class="marketing", consent=True, touches=[], at=sh(2026, 11, 26, 10))
    assert (d.verdict, d.reason) == (Verdict.BLOCK, BlockReason.FREQUENCY_CAP)


def test_classification() -> None:
    assert classify(rule_id="birthday", marketing_flag=False, policy=P) is MessageClass.CARE
    assert classify(rule_id="festival", marketing_flag=False, policy=P) is MessageClass.CARE
    assert classify(rule_id="repayment_due", marketing_flag=True, policy=P) is MessageClass.SERVICE
    assert classify(rule_id="large_outflow", marketing_flag=False, policy=P) is MessageClass.SERVICE
    assert classify(rule_id="need_salary_plan", marketing_flag=True, policy=P) is MessageClass.MARKETING
    assert classify(rule_id="custom_note", marketing_flag=False, policy=P) is MessageClass.SERVICE


def test_opt_out_line_on_every_marketing_sms_only() -> None:
    zh = with_opt_out(P, "为您推荐。", language="zh", channel="sms", message_class="marketing")
    assert zh == "为您推荐。回复TD退订"
    assert (
        with_opt_out(P, "An offer.", language="en", channel="sms", message_class="care")
        == "An offer. Reply TD to opt out"
    )
    assert with_opt_out(P, "还款提醒", language="zh", channel="sms", message_class="service") == "还款提醒"
    assert with_opt_out(P, "为您推荐。", language="zh", channel="email", message_class="marketing") == "为您推荐。"
    once = with_opt_out(P, "x", language="zh", channel="sms", message_class="marketing")
    assert with_opt_out(P, once, language="zh", channel="sms", message_class="marketing") == once


def test_opt_out_replies() -> None:
    for text in ("TD", "td", " 退订 ", "T", "stop", "TD。"):
        assert is_opt_out_reply(P, text)
    for text in ("TD please call me", "好的", ""):
        assert not is_opt_out_reply(P, text)


def test_consent_history_withdrawal_effective_at_its_instant() -> None:
    t0 = sh(2026, 11, 1, 10)
    history = [(t0, True), (t0 + timedelta(days=3), False)]
    assert consent_at(history, t0 - timedelta(seconds=1)) is False
    assert consent_at(history, t0) is True
    assert consent_at(history, t0 + timedelta(days=3) - timedelta(microseconds=1)) is True
    assert consent_at(history, t0 + timedelta(days=3)) is False


def test_policy_validation() -> None:
    with pytest.raises(ValidationError):
        ContactPolicy(cap_7d=3, cap_30d=2)
    with pytest.raises(ValidationError):
        ContactPolicy(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        ContactPolicy(default_language="fr")
