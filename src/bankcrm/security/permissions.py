"""Roles (SPEC section 1) as an explicit permission table, and the record scope of each role.

Out-of-scope customers must be indistinguishable from missing ones, so services raise
``NotFound`` for both; ``PermissionDenied`` is only for actions a role never has.

Decisions the SPEC leaves open:
- marketing has no row-level customer access at all: its customer scope is empty, and it works
  through aggregate reports (``report.aggregate``: counts and sums over segments, never single
  rows) and the pseudonymous scores export (customer ids and scores, no names or contact data).
- compliance reads every customer for oversight (complaints, suitability exceptions, audit
  follow-up) but always masked: it has ``customer.read`` with all-bank scope and no
  ``customer.reveal``; it approves reveals and unmasked exports instead of doing them.
- admin sees no customer data: empty scope, no customer permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from sqlalchemy import BindParameter, ColumnElement, String, and_, bindparam, false, or_, select, true

from bankcrm.customers.models import Customer
from bankcrm.reference import ROLES
from bankcrm.staff.models import Staff

T = TypeVar("T")


class Permission(StrEnum):
    CUSTOMER_READ = "customer.read"
    CUSTOMER_REVEAL = "customer.reveal"
    CUSTOMER_WRITE_CONTACT = "customer.write_contact"
    CUSTOMER_REASSIGN = "customer.reassign"
    INTERACTION_WRITE = "interaction.write"
    OPPORTUNITY_WRITE = "opportunity.write"
    OPPORTUNITY_REASSIGN = "opportunity.reassign"
    TASK_WORK = "task.work"
    SCORECARD_READ = "scorecard.read"
    ASSIGNMENT_RULES_WRITE = "assignment_rules.write"
    REPORT_AGGREGATE = "report.aggregate"
    CAMPAIGN_WRITE = "campaign.write"
    RULE_WRITE = "rule.write"
    NIGHTLY_RUN = "nightly.run"
    CONFIG_WRITE = "config.write"
    EXPORT_SCORES = "export.scores"
    EXPORT_CUSTOMERS = "export.customers"
    EXPORT_APPROVE = "export.approve"
    AUDIT_READ = "audit.read"
    REVEAL_APPROVE = "reveal.approve"
    COMPLAINT_OVERSIGHT = "complaint.oversight"
    SUITABILITY_OVERSIGHT = "suitability.oversight"
    MARKETING_COPY_REVIEW = "marketing_copy.review"
    USER_ADMIN = "user.admin"
    REFERENCE_ADMIN = "reference.admin"  # branches, teams, product catalogue


P = Permission

_RM = frozenset(
    {
        P.CUSTOMER_READ,
        P.CUSTOMER_REVEAL,
        P.CUSTOMER_WRITE_CONTACT,
        P.INTERACTION_WRITE,
        P.OPPORTUNITY_WRITE,
        P.TASK_WORK,
        P.SCORECARD_READ,
    }
)
_TEAM_LEAD = _RM | {P.CUSTOMER_REASSIGN, P.OPPORTUNITY_REASSIGN, P.EXPORT_CUSTOMERS}
_BRANCH_MANAGER = _TEAM_LEAD | {P.ASSIGNMENT_RULES_WRITE, P.REPORT_AGGREGATE}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "rm": _RM,
    "team_lead": frozenset(_TEAM_LEAD),
    "branch_manager": frozenset(_BRANCH_MANAGER),
    "marketing": frozenset(
        {
            P.REPORT_AGGREGATE,
            P.CAMPAIGN_WRITE,
            P.RULE_WRITE,
            P.NIGHTLY_RUN,
            P.CONFIG_WRITE,
            P.EXPORT_SCORES,
        }
    ),
    "compliance": frozenset(
        {
            P.CUSTOMER_READ,
            P.AUDIT_READ,
            P.REVEAL_APPROVE,
            P.EXPORT_APPROVE,
            P.COMPLAINT_OVERSIGHT,
            P.SUITABILITY_OVERSIGHT,
            P.MARKETING_COPY_REVIEW,
            P.REPORT_AGGREGATE,
        }
    ),
    "admin": frozenset({P.USER_ADMIN, P.REFERENCE_ADMIN, P.CONFIG_WRITE}),
}
assert set(ROLE_PERMISSIONS) == set(ROLES), "every SPEC role needs a row in the permission table"


class CustomerScope(StrEnum):
    OWN = "own"  # customers whose rm_id is the user's staff id
    TEAM = "team"  # customers of any RM in the user's team
    BRANCH = "branch"  # customers of the user's branch
    ALL_MASKED = "all_masked"  # every customer, never unmasked
    NONE = "none"  # no row-level customer access


ROLE_CUSTOMER_SCOPE: dict[str, CustomerScope] = {
    "rm": CustomerScope.OWN,
    "team_lead": CustomerScope.TEAM,
    "branch_manager": CustomerScope.BRANCH,
    "marketing": CustomerScope.NONE,
    "compliance": CustomerScope.ALL_MASKED,
    "admin": CustomerScope.NONE,
}

# API token scopes and the permissions each one lends (never more than the token's user has)
TOKEN_SCOPES: dict[str, frozenset[Permission]] = {
    "customers:read": frozenset({P.CUSTOMER_READ}),
    "customers:write": frozenset({P.CUSTOMER_WRITE_CONTACT, P.INTERACTION_WRITE}),
    "scores:read": frozenset({P.EXPORT_SCORES, P.REPORT_AGGREGATE}),
    "tasks:read": frozenset({P.TASK_WORK}),
    "tasks:write": frozenset({P.TASK_WORK, P.OPPORTUNITY_WRITE}),
    "audit:read": frozenset({P.AUDIT_READ}),
}


class PermissionDenied(Exception):
    """The role never has this permission (the web layer answers 403)."""

    def __init__(self, permission: str) -> None:
        super().__init__(f"not permitted: {permission}")
        self.permission = permission


class NotFound(Exception):
    """Missing or out of scope; the two must look exactly alike (the web layer answers 404)."""

    def __init__(self, kind: str = "record") -> None:
        super().__init__(f"{kind} not found")
        self.kind = kind


class _UserLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def staff_id(self) -> str | None: ...
    @property
    def team_id(self) -> str | None: ...
    @property
    def branch_id(self) -> str | None: ...


@dataclass(frozen=True)
class Principal:
    """Who is acting and what they may do; built once per request from the user (and token scopes)."""

    user_id: int
    username: str
    role: str
    staff_id: str | None = None
    team_id: str | None = None
    branch_id: str | None = None
    permissions: frozenset[Permission] = frozenset()

    @classmethod
    def of(cls, user: _UserLike, *, token_scopes: frozenset[str] | None = None) -> Principal:
        """The user's role permissions, narrowed to the token's scopes when acting through an API token."""
        perms = ROLE_PERMISSIONS.get(user.role, frozenset())
        if token_scopes is not None:
            lent: set[Permission] = set()
            for scope in token_scopes:
                lent |= TOKEN_SCOPES.get(scope, frozenset())
            perms = perms & frozenset(lent)
        return cls(
            user_id=user.id,
            username=user.username,
            role=user.role,
            staff_id=user.staff_id,
            team_id=user.team_id,
            branch_id=user.branch_id,
            permissions=frozenset(perms),
        )

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def customer_scope(self) -> CustomerScope:
        if Permission.CUSTOMER_READ not in self.permissions:
            return CustomerScope.NONE
        return ROLE_CUSTOMER_SCOPE.get(self.role, CustomerScope.NONE)

    @property
    def sees_unmasked(self) -> bool:
        """Whether a reveal is possible at all; display is masked by default for everyone."""
        return Permission.CUSTOMER_REVEAL in self.permissions


def require(principal: Principal, permission: Permission) -> None:
    """Raise PermissionDenied unless the principal holds the permission."""
    if permission not in principal.permissions:
        raise PermissionDenied(permission)


def customer_scope_filter(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``Customer`` selecting exactly the customers the principal may see.

    A user missing the scope attribute their role needs (an RM without a staff id) sees nothing.
    """
    p = principal
    return _scope_clause(p.customer_scope, p.staff_id or None, p.team_id or None, p.branch_id or None)


# The scope of a principal as a statement built once for every principal of the same shape:
# (scope, has a staff id, has a team id, has a branch id). The ids are required bound parameters
# (``scope_params``), so a statement run without them fails instead of using anyone's values.
ScopeShape = tuple[CustomerScope, bool, bool, bool]
_SCOPE_PARAMS = ("scope_staff_id", "scope_team_id", "scope_branch_id")


def scope_shape(principal: Principal) -> ScopeShape:
    """The principal's scope and which of the ids it uses are present (ids it does not use count as absent)."""
    scope, p = principal.customer_scope, principal
    uses_staff, uses_team, uses_branch = _SCOPE_USES.get(scope, (False, False, False))
    return (scope, uses_staff and bool(p.staff_id), uses_team and bool(p.team_id), uses_branch and bool(p.branch_id))


# which ids (staff, team, branch) each scope's clause reads
_SCOPE_USES = {
    CustomerScope.OWN: (True, False, False),
    CustomerScope.TEAM: (True, True, True),
    CustomerScope.BRANCH: (False, False, True),
}


def scope_params(principal: Principal) -> dict[str, str | None]:
    """The values of ``bound_scope_filter``'s parameters for this principal."""
    return dict(zip(_SCOPE_PARAMS, (principal.staff_id, principal.team_id, principal.branch_id), strict=True))


def bound_scope_filter(shape: ScopeShape) -> ColumnElement[bool]:
    """``customer_scope_filter`` for every principal of one shape, the ids as required bound parameters."""
    scope, *present = shape
    staff_id, team_id, branch_id = (
        bindparam(name, required=True, type_=String()) if there else None
        for name, there in zip(_SCOPE_PARAMS, present, strict=True)
    )
    return _scope_clause(scope, staff_id, team_id, branch_id)


_Id = str | BindParameter[str] | None


def _scope_clause(scope: CustomerScope, staff_id: _Id, team_id: _Id, branch_id: _Id) -> ColumnElement[bool]:
    if scope is CustomerScope.OWN:
        return Customer.rm_id == staff_id if staff_id is not None else false()
    if scope is CustomerScope.TEAM:
        if team_id is None:
            return Customer.rm_id == staff_id if staff_id is not None else false()
        team_rms = select(Staff.staff_id).where(Staff.team_id == team_id)
        own = [Customer.rm_id == staff_id] if staff_id is not None else []
        # customers without an RM are the branch queue, which the branch's team leads work
        queue = [and_(Customer.rm_id.is_(None), Customer.branch_id == branch_id)] if branch_id is not None else []
        return or_(Customer.rm_id.in_(team_rms), *own, *queue)
    if scope is CustomerScope.BRANCH:
        return Customer.branch_id == branch_id if branch_id is not None else false()
    if scope is CustomerScope.ALL_MASKED:
        return true()
    return false()


def found_in_scope(record: T | None, kind: str = "record") -> T:
    """The record, or NotFound when the scoped query found nothing (missing and hidden alike)."""
    if record is None:
        raise NotFound(kind)
    return record
