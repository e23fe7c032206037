"""Logging a contact and reading the timeline: permission, scope, validation, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from bank360 import ACTOR, COMPLIANCE, LEAD, RM1, RM2, Bank
from pydantic import ValidationError

from bankcrm.audit.service import search, verify
from bankcrm.db.engine import session_scope
from bankcrm.interactions import service
from bankcrm.interactions.schemas import InteractionCreate
from bankcrm.security.permissions import NotFound, PermissionDenied

NOW = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def log(bank: Bank, principal=RM1, customer: str = "C1", **fields) -> service.InteractionRead:
    data = InteractionCreate(**{"channel": "call", "purpose": "care", **fields})
    with session_scope(bank.factory) as s:
        return service.log_interaction(s, principal, customer, data, actor=ACTOR, clock=clock)


def test_log_and_read_the_timeline_newest_first(bank: Bank) -> None:
    first = log(bank, occurred_at=NOW - timedelta(days=3), notes="生日问候")
    second = log(
        bank,
        channel="visit",
        purpose="review",
        notes="资产检视，客户关注养老规划",
        next_step="发送养老目标基金资料",
        next_step_on=date(2026, 7, 8),
    )
    third = log(bank, LEAD, channel="wecom", purpose="marketing", occurred_at=NOW - timedelta(days=1))
    assert (second.occurred_at, second.staff_id, second.next_step_on) == (NOW, "S1", date(2026, 7, 8))
    with session_scope(bank.factory) as s:
        page = service.list_interactions(s, RM1, "C1", actor=ACTOR, limit=2)
        assert [i.id for i in page.items] == [second.id, third.id]
        assert page.next_before_id == third.id
        rest = service.list_interactions(s, RM1, "C1", actor=ACTOR, limit=2, before_id=page.next_before_id)
        assert ([i.id for i in rest.items], rest.next_before_id) == ([first.id], None)
    with session_scope(bank.factory) as s:
        created = search(s, action="interaction.create")
        assert len(created) == 3
        # notes stay out of the audit log
        assert all("资产检视" not in e.details_json for e in created)
        assert len(search(s, action="customer.view")) == 2
        assert verify(s).ok


def test_rules_on_what_is_logged(bank: Bank) -> None:
    with pytest.raises(ValidationError):
        InteractionCreate(channel="fax", purpose="care")
    with pytest.raises(ValidationError):
        InteractionCreate(channel="call", purpose="gossip")
    with pytest.raises(ValidationError):
        InteractionCreate(channel="call", purpose="care", occurred_at=datetime(2026, 7, 1, 9, 0))  # no offset
    with pytest.raises(service.InteractionError, match="future"):
        log(bank, occurred_at=NOW + timedelta(hours=2))
    with pytest.raises(service.InteractionError, match="next step"):
        log(bank, next_step_on=date(2026, 7, 9))
    with pytest.raises(service.InteractionError, match="before"):
        log(bank, next_step="回访", next_step_on=date(2026, 6, 1))


def test_scope_and_permission(bank: Bank) -> None:
    with pytest.raises(NotFound):
        log(bank, RM2, "C1")
    with pytest.raises(NotFound):
        log(bank, LEAD, "C3")  # another team's customer
    with pytest.raises(PermissionDenied):
        log(bank, COMPLIANCE, "C1")  # compliance reads, never writes
    with pytest.raises(NotFound), session_scope(bank.factory) as s:
        service.list_interactions(s, RM2, "C1", actor=ACTOR)
    with session_scope(bank.factory) as s:
        assert search(s, action="interaction.create") == []
        assert service.list_interactions(s, COMPLIANCE, "C1", actor=ACTOR).items == []
