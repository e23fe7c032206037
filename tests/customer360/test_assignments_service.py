"""Reassignment inside the team or branch, its history and audit, and the workload of each RM."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from bank360 import ACTOR, LEAD, MANAGER, RM1, Bank
from pydantic import ValidationError

from bankcrm.assignments import service
from bankcrm.assignments.schemas import Reassignment
from bankcrm.audit.service import search, verify
from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_scope
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import NotFound, PermissionDenied


def reassign(bank: Bank, principal, customers: list[str], to: str, reason: str = "客户经理调岗，客户交接"):
    with session_scope(bank.factory) as s:
        return service.reassign_customers(
            s, principal, Reassignment(customer_ids=customers, to_rm_id=to, reason=reason), actor=ACTOR
        )


def test_team_lead_moves_a_customer_inside_the_team_with_history_and_audit(bank: Bank) -> None:
    (moved,) = reassign(bank, LEAD, ["C1"], "S2")
    assert (moved.from_rm_id, moved.to_rm_id, moved.changed_by) == ("S1", "S2", "L1")
    with session_scope(bank.factory) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None and customer.rm_id == "S2"
        history = service.assignment_history(s, MANAGER, "C1", actor=ACTOR)
        assert [(h.from_rm_id, h.to_rm_id, h.reason) for h in history] == [("S1", "S2", "客户经理调岗，客户交接")]
    with session_scope(bank.factory) as s:
        (event,) = search(s, action="change")
        details = json.loads(event.details_json)
        assert (details["before"], details["after"], details["reason"]) == (
            {"rm_id": "S1"},
            {"rm_id": "S2"},
            "客户经理调岗，客户交接",
        )
        assert verify(s).ok


def test_branch_manager_moves_across_teams_of_the_branch_only(bank: Bank) -> None:
    moved = reassign(bank, MANAGER, ["C1", "C3", "C1"], "S3")
    # C3 is already with S3: only C1 moves, once
    assert [(m.customer_id, m.to_rm_id) for m in moved] == [("C1", "S3")]
    with pytest.raises(NotFound):
        reassign(bank, MANAGER, ["C9"], "S3")  # another branch's customer
    with pytest.raises(NotFound):
        reassign(bank, MANAGER, ["C2"], "S9")  # an RM of another branch


def test_team_lead_stays_inside_the_team_and_rms_cannot_reassign(bank: Bank) -> None:
    with pytest.raises(NotFound):
        reassign(bank, LEAD, ["C3"], "S2")  # C3 belongs to team T2
    with pytest.raises(NotFound):
        reassign(bank, LEAD, ["C1"], "S3")  # S3 is in team T2
    with pytest.raises(NotFound):
        reassign(bank, LEAD, ["C1", "C404"], "S2")  # all or nothing
    with pytest.raises(PermissionDenied):
        reassign(bank, RM1, ["C1"], "S2")
    with pytest.raises(service.ReassignmentError):
        reassign(bank, LEAD, ["C1"], "S1")
    with pytest.raises(ValidationError):
        Reassignment(customer_ids=["C1"], to_rm_id="S2", reason="")
    with session_scope(bank.factory) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None and customer.rm_id == "S1"
        assert search(s, action="change") == []


def test_workload_per_rm_of_the_team_and_the_branch(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        team = service.rm_workload(s, LEAD, actor=ACTOR)
        branch = service.rm_workload(s, MANAGER, actor=ACTOR)
    assert [(w.staff_id, w.customers, w.vip_customers, w.aum, w.load) for w in team] == [
        ("L1", 0, 0, Decimal("0.00"), None),
        ("S1", 1, 1, Decimal("600123.46"), 0.01),
        ("S2", 1, 0, Decimal("1000.00"), None),
    ]
    assert [w.staff_id for w in branch] == ["L1", "S1", "S2", "S3"]
    assert next(w for w in branch if w.staff_id == "S3").aum == Decimal("900000.00")
    with pytest.raises(PermissionDenied), session_scope(bank.factory) as s:
        service.rm_workload(s, RM1, actor=ACTOR)


def test_team_customers_masked_largest_aum_first(bank: Bank) -> None:
    with session_scope(bank.factory) as s:
        page = service.team_customers(s, MANAGER, actor=ACTOR, masker=Masker())
        assert [(c.customer_id, c.name, c.tier) for c in page.items] == [
            ("C3", "张*", "vip"),
            ("C1", "欧阳**", "vip"),
            ("C2", "张*", "ordinary"),
        ]
        assert page.total == 3
        mine = service.team_customers(s, LEAD, actor=ACTOR, masker=Masker(), rm_id="S2")
        assert [c.customer_id for c in mine.items] == ["C2"]
        assert service.team_customers(s, LEAD, actor=ACTOR, masker=Masker(), rm_id="S3").items == []
    with session_scope(bank.factory) as s:
        assert len(search(s, action="customer.list")) == 3
