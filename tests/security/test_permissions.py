"""The permission table and the customer scope of every role on a hand-made bank."""

from __future__ import annotations

import pytest
from security_org import CUSTOMERS, build_org
from sqlalchemy import Engine, select
from sqlalchemy.exc import StatementError

from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.reference import ROLES
from bankcrm.security.permissions import (
    ROLE_PERMISSIONS,
    CustomerScope,
    NotFound,
    Permission,
    PermissionDenied,
    Principal,
    bound_scope_filter,
    customer_scope_filter,
    found_in_scope,
    require,
    scope_params,
    scope_shape,
)
from factories import principal

ALL = set(CUSTOMERS)


CASES = [
    ("rm S1", principal("rm", "S1", "T1", "B1"), {"C1", "C2"}),
    ("rm S4", principal("rm", "S4", "T3", "B2"), {"C5"}),
    ("rm without staff id", principal("rm", None, "T1", "B1"), set()),
    # team leads also work the branch queue: C6 has no RM
    ("team lead T1", principal("team_lead", "L1", "T1", "B1"), {"C1", "C2", "C3", "C6", "C7"}),
    ("team lead T2", principal("team_lead", None, "T2", "B1"), {"C4", "C6"}),
    ("branch manager B1", principal("branch_manager", "M1", None, "B1"), ALL - {"C5"}),
    ("branch manager B2", principal("branch_manager", None, None, "B2"), {"C5"}),
    ("branch manager without branch", principal("branch_manager"), set()),
    ("marketing", principal("marketing"), set()),
    ("compliance", principal("compliance"), ALL),
    ("admin", principal("admin", None, None, "B1"), set()),
]


@pytest.mark.parametrize(("label", "who", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_role_sees_exactly_its_customers(
    any_engine: Engine, label: str, who: Principal, expected: set[str]
) -> None:
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        build_org(s)
    with session_scope(factory) as s:
        seen = set(s.scalars(select(Customer.customer_id).where(customer_scope_filter(who))))
        bound = select(Customer.customer_id).where(bound_scope_filter(scope_shape(who)))
        seen_bound = set(s.scalars(bound, scope_params(who)))
    assert seen == expected, label
    assert seen_bound == expected, label


def test_one_bound_scope_statement_serves_every_principal_of_its_shape_and_no_one_without_ids(
    any_engine: Engine,
) -> None:
    """The list and the 360 build their statements once per scope shape: the ids must come from the caller."""
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        build_org(s)
    statements: dict[object, object] = {}
    with session_scope(factory) as s:
        for label, who, expected in CASES:
            shape = scope_shape(who)
            stmt = statements.setdefault(shape, select(Customer.customer_id).where(bound_scope_filter(shape)))
            assert set(s.scalars(stmt, scope_params(who))) == expected, label  # type: ignore[call-overload]
        assert len(statements) < len(CASES)  # some statements did serve several principals
        rm_statement = statements[scope_shape(principal("rm", "S1"))]  # team and branch do not matter to an RM
        with pytest.raises(StatementError, match="scope_staff_id"):
            s.scalars(rm_statement).all()  # type: ignore[call-overload]


def test_every_spec_role_has_a_row_and_a_scope() -> None:
    assert set(ROLE_PERMISSIONS) == set(ROLES)
    assert principal("rm", "S1").customer_scope is CustomerScope.OWN
    assert principal("compliance").customer_scope is CustomerScope.ALL_MASKED
    assert principal("marketing").customer_scope is CustomerScope.NONE


@pytest.mark.parametrize(
    ("role", "allowed", "denied"),
    [
        ("rm", {"customer.read", "customer.reveal", "customer.write_contact"}, {"customer.reassign", "audit.read"}),
        ("team_lead", {"customer.reassign", "opportunity.reassign"}, {"audit.read", "user.admin"}),
        ("branch_manager", {"assignment_rules.write", "report.aggregate"}, {"config.write", "user.admin"}),
        ("marketing", {"config.write", "export.scores", "report.aggregate"}, {"customer.read", "customer.reveal"}),
        ("compliance", {"audit.read", "reveal.approve", "customer.read"}, {"customer.reveal", "export.scores"}),
        ("admin", {"user.admin", "config.write"}, {"customer.read", "audit.read", "customer.reveal"}),
    ],
)
def test_permission_table(role: str, allowed: set[str], denied: set[str]) -> None:
    who = principal(role)
    for name in allowed:
        require(who, Permission(name))
    for name in denied:
        with pytest.raises(PermissionDenied, match=name):
            require(who, Permission(name))


def test_only_customer_facing_roles_may_reveal() -> None:
    revealers = {role for role, perms in ROLE_PERMISSIONS.items() if Permission.CUSTOMER_REVEAL in perms}
    assert revealers == {"rm", "team_lead", "branch_manager"}


def test_out_of_scope_looks_exactly_like_missing() -> None:
    with pytest.raises(NotFound) as missing:
        found_in_scope(None, "customer")
    assert str(missing.value) == "customer not found"
    assert found_in_scope("C1", "customer") == "C1"
