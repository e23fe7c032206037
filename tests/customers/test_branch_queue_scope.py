"""Team leads work the branch queue: customers of their branch without an RM are in their scope."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from bankcrm.config import Settings
from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security.permissions import ROLE_PERMISSIONS, Principal, customer_scope_filter
from bankcrm.staff.models import Branch, Staff, Team
from factories import customer


@pytest.fixture
def factory(any_settings: Settings, any_engine: Engine):
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        s.add_all([Branch(branch_id="B1", name="b1"), Branch(branch_id="B2", name="b2")])
        s.flush()
        s.add_all([Team(team_id="T1", name="t1", branch_id="B1"), Team(team_id="T2", name="t2", branch_id="B1")])
        s.flush()
        s.add_all(
            [
                Staff(staff_id="S1", name="s1", role="rm", branch_id="B1", team_id="T1"),
                Staff(staff_id="S2", name="s2", role="rm", branch_id="B1", team_id="T2"),
            ]
        )
        s.flush()
        for cid, rm, branch in (("C1", "S1", "B1"), ("C2", "S2", "B1"), ("Q1", None, "B1"), ("Q2", None, "B2")):
            s.add(customer(cid, rm, branch))
    return factory


def _visible(factory, principal: Principal) -> set[str]:
    with session_scope(factory) as s:
        return set(s.scalars(select(Customer.customer_id).where(customer_scope_filter(principal))))


def test_team_lead_sees_the_team_and_the_branch_queue(factory) -> None:
    lead = Principal(1, "lead", "team_lead", None, "T1", "B1", ROLE_PERMISSIONS["team_lead"])
    assert _visible(factory, lead) == {"C1", "Q1"}


def test_an_rm_does_not_see_the_queue(factory) -> None:
    rm = Principal(2, "rm", "rm", "S1", "T1", "B1", ROLE_PERMISSIONS["rm"])
    assert _visible(factory, rm) == {"C1"}
