"""The demo bank's logins: one user per role, scoped to a relationship manager who has customers.

The passwords are fixed so the demo can print them; they are for a demo bank on one machine
and must never be used anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor
from bankcrm.customers import repository as customers_repo
from bankcrm.security import repository as repo
from bankcrm.security import service
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.passwords import PasswordHasher


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    scope: str


class DemoError(Exception):
    """The bank has no relationship manager with customers to build the demo logins on."""


# username -> (role, password); every password passes the policy (12+ characters, two classes)
DEMO_USERS: dict[str, tuple[str, str]] = {
    "demo.rm": ("rm", "Demo-Bank-rm-2026"),
    "demo.lead": ("team_lead", "Demo-Bank-lead-2026"),
    "demo.manager": ("branch_manager", "Demo-Bank-manager-2026"),
    "demo.marketing": ("marketing", "Demo-Bank-mkt-2026"),
    "demo.compliance": ("compliance", "Demo-Bank-cmp-2026"),
    "demo.admin": ("admin", "Demo-Bank-adm-2026"),
}


def create_demo_users(
    session: Session, *, hasher: PasswordHasher, actor: Actor, clock: Clock = system_clock
) -> list[DemoLogin]:
    """Create (or reset the password of) one login per role; the RM is the one with most customers."""
    rm_id = customers_repo.busiest_rm(session)
    staff = repo.get_staff(session, rm_id) if rm_id else None
    if staff is None:
        raise DemoError("no relationship manager with customers: load a bank first")
    scopes = {
        "rm": {"staff_id": staff.staff_id},
        "team_lead": {"team_id": staff.team_id} if staff.team_id else {"branch_id": staff.branch_id},
        "branch_manager": {"branch_id": staff.branch_id},
    }
    logins = []
    for username, (role, password) in DEMO_USERS.items():
        scope = scopes.get(role, {})
        if role == "team_lead" and "team_id" not in scope:
            role = "branch_manager"  # an RM outside any team: the lead's view falls back to the branch
        if repo.get_user_by_username(session, username) is None:
            service.create_user(
                session,
                username=username,
                password=password,
                role=role,
                hasher=hasher,
                actor=actor,
                display_name=username,
                clock=clock,
                **scope,
            )
        else:
            service.reset_password(session, username, password, hasher=hasher, actor=actor, clock=clock)
        logins.append(DemoLogin(username, password, role, " ".join(f"{k}={v}" for k, v in scope.items()) or "-"))
    return logins
