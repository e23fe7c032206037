"""Users, logins, sessions and API tokens. Services never commit; the caller's boundary does.

A failed login is returned as a value (``LoginOutcome``), not raised, so the caller commits
the failed-attempt counter and the ``login.failure`` audit row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.reference import ROLES
from bankcrm.security import repository as repo
from bankcrm.security.auth import (
    BAD_PASSWORD,
    DISABLED,
    LOCKED,
    LOCKOUT,
    MAX_FAILED_ATTEMPTS,
    SESSION_ABSOLUTE_TIMEOUT,
    UNKNOWN_USER,
    Clock,
    LoginOutcome,
    hash_secret,
    is_locked,
    new_api_token,
    new_secret,
    session_is_live,
    system_clock,
)
from bankcrm.security.models import ApiToken, User, UserSession
from bankcrm.security.passwords import PasswordHasher, check_password_policy
from bankcrm.security.permissions import TOKEN_SCOPES

USERNAME_SHAPE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
# a validated session is written back at most this often, not on every request
TOUCH_INTERVAL = timedelta(seconds=60)


class UserError(Exception):
    """A refused user-administration request; the message says why."""


def normalise_username(username: str) -> str:
    return username.strip().lower()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    hasher: PasswordHasher,
    actor: Actor,
    display_name: str | None = None,
    staff_id: str | None = None,
    branch_id: str | None = None,
    team_id: str | None = None,
    clock: Clock = system_clock,
) -> User:
    """Add a user after checking the role, the scope it needs and the password policy.

    A staff id fills in the branch and team from the staff record when they are not given.
    """
    name = normalise_username(username)
    if not USERNAME_SHAPE.fullmatch(name):
        raise UserError(f"{username!r}: usernames are 2–64 characters: a-z, 0-9, '.', '_', '-'")
    if role not in ROLES:
        raise UserError(f"{role!r}: expected one of {', '.join(ROLES)}")
    if repo.get_user_by_username(session, name) is not None:
        raise UserError(f"user {name} already exists")
    display = display_name
    if staff_id is not None:
        staff = repo.get_staff(session, staff_id)
        if staff is None:
            raise UserError(f"no staff member {staff_id}")
        branch_id = branch_id or staff.branch_id
        team_id = team_id or staff.team_id
        display = display or staff.name
    if team_id is not None:
        team = repo.get_team(session, team_id)
        if team is None:
            raise UserError(f"no team {team_id}")
        branch_id = branch_id or team.branch_id
    if branch_id is not None and not repo.branch_exists(session, branch_id):
        raise UserError(f"no branch {branch_id}")
    if role == "rm" and staff_id is None:
        raise UserError("an rm user needs --staff-id (an RM sees the customers assigned to that staff id)")
    if role == "team_lead" and team_id is None:
        raise UserError("a team_lead user needs --team-id or a --staff-id whose staff record has a team")
    if role == "branch_manager" and branch_id is None:
        raise UserError("a branch_manager user needs --branch-id or a --staff-id")
    try:
        check_password_policy(password, username=name)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    now = clock()
    user = repo.add_user(
        session,
        User(
            username=name,
            display_name=display or name,
            role=role,
            staff_id=staff_id,
            branch_id=branch_id,
            team_id=team_id,
            password_hash=hasher.hash(password),
            failed_attempts=0,
            disabled=False,
            password_changed_at=now,
            created_at=now,
        ),
    )
    record(
        session,
        actor,
        AuditAction.USER_CREATE,
        target_type="user",
        target_id=name,
        details={"role": role, "staff_id": staff_id, "branch_id": branch_id, "team_id": team_id},
        clock=clock,
    )
    return user


def _existing(session: Session, username: str, *, for_update: bool = False) -> User:
    user = repo.get_user_by_username(session, normalise_username(username), for_update=for_update)
    if user is None:
        raise UserError(f"no user {normalise_username(username)}")
    return user


def list_users(session: Session) -> Sequence[User]:
    return repo.list_users(session)


def disable_user(session: Session, username: str, *, actor: Actor, clock: Clock = system_clock) -> User:
    """Disable the login, end every session and revoke every API token."""
    user = _existing(session, username, for_update=True)
    now = clock()
    user.disabled = True
    sessions = repo.revoke_sessions_of(session, user.id, now)
    tokens = repo.revoke_api_tokens_of(session, user.id)
    record(
        session,
        actor,
        AuditAction.USER_DISABLE,
        target_type="user",
        target_id=user.username,
        details={"sessions_revoked": sessions, "tokens_revoked": tokens},
        clock=clock,
    )
    return user


def reset_password(
    session: Session,
    username: str,
    new_password: str,
    *,
    hasher: PasswordHasher,
    actor: Actor,
    clock: Clock = system_clock,
) -> int:
    """Set a new password, clear the lock-out and end every session; returns the sessions ended."""
    user = _existing(session, username, for_update=True)
    try:
        check_password_policy(new_password, username=user.username)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    now = clock()
    user.password_hash = hasher.hash(new_password)
    user.password_changed_at = now
    user.failed_attempts = 0
    user.locked_until = None
    revoked = repo.revoke_sessions_of(session, user.id, now)
    record(
        session,
        actor,
        AuditAction.USER_PASSWORD_RESET,
        target_type="user",
        target_id=user.username,
        details={"sessions_revoked": revoked},
        clock=clock,
    )
    return revoked


def login(
    session: Session,
    username: str,
    password: str,
    *,
    hasher: PasswordHasher,
    client_address: str | None = None,
    clock: Clock = system_clock,
) -> LoginOutcome:
    """Check the password and open a new session (a fresh id at every login).

    Unknown, disabled and locked accounts still cost one argon2 verification, so response time
    does not tell them apart; five consecutive bad passwords lock the account for 15 minutes.
    """
    now = clock()
    name = normalise_username(username)[:64]
    user = repo.get_user_by_username(session, name, for_update=True)

    def fail(reason: str, *, user_id: int | None = None, extra: dict[str, object] | None = None) -> LoginOutcome:
        actor = Actor(name, user_id, client_address)
        details = {"reason": reason, **(extra or {})}
        record(
            session, actor, AuditAction.LOGIN_FAILURE, target_type="user", target_id=name, details=details, clock=clock
        )
        locked_until = user.locked_until if user is not None else None
        return LoginOutcome(False, reason, user_id=user_id, username=name, locked_until=locked_until)

    if user is None:
        hasher.burn(password)
        return fail(UNKNOWN_USER)
    if user.disabled:
        hasher.burn(password)
        return fail(DISABLED, user_id=user.id)
    if is_locked(user.locked_until, now):
        # attempts during a lock-out neither count nor extend it, so an attacker cannot keep a user out for ever
        hasher.burn(password)
        return fail(LOCKED, user_id=user.id)
    if not hasher.verify(user.password_hash, password):
        user.failed_attempts = (user.failed_attempts or 0) + 1
        extra: dict[str, object] = {"failed_attempts": user.failed_attempts}
        if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            user.locked_until = now + LOCKOUT
            user.failed_attempts = 0
            extra["locked_until"] = user.locked_until.isoformat()
        return fail(BAD_PASSWORD, user_id=user.id, extra=extra)
    user.failed_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    token = _open_session(session, user, now, client_address)
    record(
        session,
        Actor(user.username, user.id, client_address),
        AuditAction.LOGIN_SUCCESS,
        target_type="user",
        target_id=user.username,
        clock=clock,
    )
    return LoginOutcome(True, None, user_id=user.id, username=user.username, session_token=token)


def _open_session(session: Session, user: User, now: datetime, client_address: str | None) -> str:
    token = new_secret()
    repo.add_session(
        session,
        UserSession(
            id_hash=hash_secret(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_ABSOLUTE_TIMEOUT,
            revoked=False,
            client_address=client_address,
        ),
    )
    return token


def validate_session(session: Session, token: str, *, clock: Clock = system_clock) -> User | None:
    """The session's user when it is live (idle ≤ 30 min, age ≤ 12 h, not revoked, user enabled); touches it."""
    if not token:
        return None
    row = repo.get_session(session, hash_secret(token))
    now = clock()
    if row is None or not session_is_live(
        last_seen_at=row.last_seen_at, expires_at=row.expires_at, revoked=row.revoked, now=now
    ):
        return None
    user = repo.get_user(session, row.user_id)
    if user is None or user.disabled or row.created_at < user.password_changed_at:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
    return user


def logout(session: Session, token: str, *, clock: Clock = system_clock) -> bool:
    """Revoke the session; True when there was a live one to end."""
    row = repo.get_session(session, hash_secret(token)) if token else None
    if row is None or row.revoked:
        return False
    row.revoked = True
    row.revoked_at = clock()
    user = repo.get_user(session, row.user_id)
    if user is not None:
        record(
            session,
            Actor(user.username, user.id, row.client_address),
            AuditAction.LOGOUT,
            target_type="user",
            target_id=user.username,
            clock=clock,
        )
    return True


def revoke_all_sessions(session: Session, user_id: int, *, clock: Clock = system_clock) -> int:
    return repo.revoke_sessions_of(session, user_id, clock())


def create_api_token(
    session: Session,
    username: str,
    *,
    name: str,
    scopes: Iterable[str],
    actor: Actor,
    expires_in: timedelta | None = timedelta(days=90),
    clock: Clock = system_clock,
) -> tuple[ApiToken, str]:
    """Issue a token; the plaintext is returned this once and only its SHA-256 is stored."""
    user = _existing(session, username)
    if user.disabled:
        raise UserError(f"user {user.username} is disabled")
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in TOKEN_SCOPES]
    if not wanted or unknown:
        raise UserError(f"scopes must be some of {', '.join(TOKEN_SCOPES)}; got {', '.join(unknown) or 'none'}")
    now = clock()
    plaintext = new_api_token()
    token = repo.add_api_token(
        session,
        ApiToken(
            token_hash=hash_secret(plaintext),
            name=name.strip()[:100] or "token",
            user_id=user.id,
            scopes=" ".join(wanted),
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            revoked=False,
        ),
    )
    record(
        session,
        actor,
        AuditAction.TOKEN_CREATE,
        target_type="api_token",
        target_id=str(token.id),
        details={"user": user.username, "name": token.name, "scopes": wanted},
        clock=clock,
    )
    return token, plaintext


def authenticate_api_token(
    session: Session, plaintext: str, *, clock: Clock = system_clock
) -> tuple[User, frozenset[str]] | None:
    """The token's user and scopes when the token is known, unexpired, unrevoked and its user enabled."""
    if not plaintext:
        return None
    found = repo.get_api_token_with_user(session, hash_secret(plaintext))
    if found is None:
        return None
    token, user = found
    now = clock()
    if token.revoked or (token.expires_at is not None and now >= token.expires_at) or user.disabled:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
        token.last_used_at = now
    return user, frozenset(token.scopes.split())


def revoke_api_token(session: Session, token_id: int, *, actor: Actor, clock: Clock = system_clock) -> bool:
    token = repo.get_api_token_by_id(session, token_id)
    if token is None or token.revoked:
        return False
    token.revoked = True
    record(session, actor, AuditAction.TOKEN_REVOKE, target_type="api_token", target_id=str(token_id), clock=clock)
    return True
