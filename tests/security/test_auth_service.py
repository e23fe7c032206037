"""Users, logins, lock-out, sessions and API tokens against SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from security_org import CountingHasher, FakeClock, build_org
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bankcrm.audit.models import AuditEvent
from bankcrm.audit.service import Actor, verify
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security import service
from bankcrm.security.auth import BAD_PASSWORD, DISABLED, GENERIC_FAILURE, LOCKED, UNKNOWN_USER, hash_secret
from bankcrm.security.models import ApiToken, User, UserSession
from bankcrm.security.passwords import PasswordHasher
from bankcrm.security.permissions import Permission, Principal

PASSWORD = "correct horse 42"
CLI = Actor.cli()


@pytest.fixture
def factory(any_engine: Engine):
    f = session_factory(any_engine)
    with session_scope(f) as s:
        build_org(s)
    return f


def _add(factory, hasher: PasswordHasher, clock: FakeClock, username: str = "rm1", **kw: object) -> None:
    args: dict[str, object] = {"role": "rm", "staff_id": "S1"} | kw
    with session_scope(factory) as s:
        service.create_user(s, username=username, password=PASSWORD, hasher=hasher, actor=CLI, clock=clock, **args)


def _login(factory, hasher: PasswordHasher, clock: FakeClock, password: str = PASSWORD, username: str = "rm1"):
    with session_scope(factory) as s:
        return service.login(s, username, password, hasher=hasher, clock=clock, client_address="10.0.0.7")


def _actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_user_gets_scope_from_staff_and_an_argon2id_hash(
    factory, hasher: CountingHasher, clock: FakeClock, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    _add(factory, hasher, clock)
    with session_scope(factory) as s:
        user = s.scalars(select(User)).one()
        assert (user.role, user.staff_id, user.team_id, user.branch_id) == ("rm", "S1", "T1", "B1")
        assert user.display_name == "staff S1"
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert _actions(s) == ["user.create"]
        stored = s.scalars(select(AuditEvent.details_json)).one()
    assert PASSWORD not in stored and PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "rm", "staff_id": None}, "needs --staff-id"),
        ({"role": "rm", "staff_id": "S9"}, "no staff member S9"),
        ({"role": "boss", "staff_id": None}, "expected one of rm, team_lead"),
        ({"role": "team_lead", "staff_id": None, "team_id": "T9"}, "no team T9"),
        ({"role": "team_lead", "staff_id": None}, "needs --team-id"),
        ({"role": "branch_manager", "staff_id": None, "branch_id": "B9"}, "no branch B9"),
        ({"role": "branch_manager", "staff_id": None}, "needs --branch-id"),
    ],
)
def test_create_user_refusals(factory, hasher, clock, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(service.UserError, match=message):
        _add(factory, hasher, clock, **kwargs)


def test_duplicate_username_and_weak_password_refused(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    with pytest.raises(service.UserError, match="already exists"):
        _add(factory, hasher, clock, username="RM1")
    with pytest.raises(service.UserError, match="at least 12"), session_scope(factory) as s:
        service.create_user(s, username="x2", password="short1A", role="admin", hasher=hasher, actor=CLI)


def test_login_success_opens_a_new_session_each_time(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    first = _login(factory, hasher, clock)
    second = _login(factory, hasher, clock)
    assert first.ok and second.ok and first.message == "ok"
    assert first.session_token and second.session_token and first.session_token != second.session_token
    assert len(first.session_token) >= 43  # 256 bits, URL-safe base64
    with session_scope(factory) as s:
        hashes = set(s.scalars(select(UserSession.id_hash)))
        assert hashes == {hash_secret(first.session_token), hash_secret(second.session_token)}
        assert first.session_token not in hashes
        user = service.validate_session(s, first.session_token, clock=clock)
        assert user is not None and user.username == "rm1"
        assert _actions(s)[-2:] == ["login.success", "login.success"]


def test_lockout_after_five_failures_and_release_after_fifteen_minutes(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    for i in range(4):
        out = _login(factory, hasher, clock, password="wrong password 1")
        assert not out.ok and out.reason == BAD_PASSWORD and out.message == GENERIC_FAILURE
        assert out.locked_until is None, i
    fifth = _login(factory, hasher, clock, password="wrong password 1")
    assert fifth.reason == BAD_PASSWORD and fifth.locked_until == clock.now + timedelta(minutes=15)
    # the right password is refused while locked, with the same generic message
    clock.advance(minutes=14, seconds=59)
    locked = _login(factory, hasher, clock)
    assert not locked.ok and locked.reason == LOCKED and locked.message == GENERIC_FAILURE
    clock.advance(seconds=1)
    assert _login(factory, hasher, clock).ok
    with session_scope(factory) as s:
        user = s.scalars(select(User)).one()
        assert user.failed_attempts == 0 and user.locked_until is None
        failures = s.scalars(select(AuditEvent.details_json).where(AuditEvent.action == "login.failure")).all()
        assert len(failures) == 6 and '"locked_until"' in failures[4]
        assert verify(s).ok


def test_success_resets_the_failure_count(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    for _ in range(4):
        _login(factory, hasher, clock, password="wrong password 1")
    assert _login(factory, hasher, clock).ok
    for _ in range(4):
        assert _login(factory, hasher, clock, password="wrong password 1").locked_until is None


def test_unknown_user_costs_one_verification_and_looks_the_same(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    hasher.verifications = 0
    unknown = _login(factory, hasher, clock, username="nobody")
    assert hasher.verifications == 1
    hasher.verifications = 0
    wrong = _login(factory, hasher, clock, password="wrong password 1")
    assert hasher.verifications == 1
    assert unknown.message == wrong.message == GENERIC_FAILURE
    assert unknown.reason == UNKNOWN_USER and unknown.session_token is None
    with session_scope(factory) as s:
        details = s.scalars(select(AuditEvent.details_json).where(AuditEvent.target_id == "nobody")).one()
        assert UNKNOWN_USER in details


def test_hash_upgraded_when_argon2_parameters_change(factory, clock) -> None:
    old = PasswordHasher(time_cost=1, memory_cost_kib=1024, parallelism=1)
    new = PasswordHasher(time_cost=2, memory_cost_kib=2048, parallelism=1)
    _add(factory, old, clock)
    with session_scope(factory) as s:
        before = s.scalars(select(User.password_hash)).one()
    assert new.needs_rehash(before) and not old.needs_rehash(before)
    assert _login(factory, new, clock).ok
    with session_scope(factory) as s:
        after = s.scalars(select(User.password_hash)).one()
    assert after != before and "m=2048,t=2" in after and not new.needs_rehash(after)
    assert _login(factory, new, clock).ok


def test_session_idle_timeout(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    token = _login(factory, hasher, clock).session_token
    assert token
    for _ in range(3):  # activity keeps it alive beyond 30 minutes in total
        clock.advance(minutes=29)
        with session_scope(factory) as s:
            assert service.validate_session(s, token, clock=clock) is not None
    clock.advance(minutes=30)
    with session_scope(factory) as s:
        assert service.validate_session(s, token, clock=clock) is None


def test_session_absolute_timeout(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    token = _login(factory, hasher, clock).session_token
    assert token
    for _ in range(24):  # active every 29 minutes: 11 h 36 min
        clock.advance(minutes=29)
        with session_scope(factory) as s:
            assert service.validate_session(s, token, clock=clock) is not None
    clock.advance(minutes=24)  # exactly 12 hours after login
    with session_scope(factory) as s:
        assert service.validate_session(s, token, clock=clock) is None


def test_logout_revokes_and_garbage_is_refused(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    token = _login(factory, hasher, clock).session_token
    assert token
    with session_scope(factory) as s:
        assert service.logout(s, token, clock=clock)
        assert not service.logout(s, token, clock=clock)
    with session_scope(factory) as s:
        assert service.validate_session(s, token, clock=clock) is None
        assert service.validate_session(s, "", clock=clock) is None
        assert service.validate_session(s, "not-a-session", clock=clock) is None
        assert _actions(s)[-1] == "logout"


def test_reset_password_and_disable_end_every_session(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    tokens = [_login(factory, hasher, clock).session_token for _ in range(2)]
    with session_scope(factory) as s:
        assert service.reset_password(s, "rm1", "another secret 99", hasher=hasher, actor=CLI, clock=clock) == 2
    with session_scope(factory) as s:
        assert all(service.validate_session(s, t or "", clock=clock) is None for t in tokens)
    assert not _login(factory, hasher, clock).ok
    fresh = _login(factory, hasher, clock, password="another secret 99")
    assert fresh.ok and fresh.session_token
    with session_scope(factory) as s:
        service.disable_user(s, "rm1", actor=CLI, clock=clock)
    with session_scope(factory) as s:
        assert service.validate_session(s, fresh.session_token, clock=clock) is None
    out = _login(factory, hasher, clock, password="another secret 99")
    assert not out.ok and out.reason == DISABLED and out.message == GENERIC_FAILURE
    with pytest.raises(service.UserError, match="no user ghost"), session_scope(factory) as s:
        service.disable_user(s, "ghost", actor=CLI)


def test_api_token_hashed_scoped_and_revocable(factory, hasher, clock) -> None:
    _add(factory, hasher, clock)
    with session_scope(factory) as s:
        token, plaintext = service.create_api_token(
            s, "rm1", name="crm sync", scopes=["customers:read"], actor=CLI, clock=clock
        )
        token_id = token.id
    assert plaintext.startswith("bcrm_")
    with session_scope(factory) as s:
        stored = s.scalars(select(ApiToken)).one()
        assert stored.token_hash == hash_secret(plaintext) and plaintext not in stored.token_hash
        found = service.authenticate_api_token(s, plaintext, clock=clock)
        assert found is not None
        user, scopes = found
        principal = Principal.of(user, token_scopes=scopes)
        # the token lends customer.read only, even though the RM may also reveal and write
        assert principal.can(Permission.CUSTOMER_READ)
        assert not principal.can(Permission.CUSTOMER_REVEAL) and not principal.can(Permission.CUSTOMER_WRITE_CONTACT)
        assert service.authenticate_api_token(s, plaintext + "x", clock=clock) is None
    with pytest.raises(service.UserError, match="scopes must be"), session_scope(factory) as s:
        service.create_api_token(s, "rm1", name="bad", scopes=["everything"], actor=CLI)
    clock.advance(days=91)  # default lifetime 90 days
    with session_scope(factory) as s:
        assert service.authenticate_api_token(s, plaintext, clock=clock) is None
        assert service.revoke_api_token(s, token_id, actor=CLI, clock=clock)
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "token.create")) == 1


def test_scoped_token_never_exceeds_its_users_role(factory, hasher, clock) -> None:
    _add(factory, hasher, clock, username="mkt", role="marketing", staff_id=None)
    with session_scope(factory) as s:
        _, plaintext = service.create_api_token(
            s, "mkt", name="bi", scopes=["customers:read", "scores:read"], actor=CLI, clock=clock
        )
        found = service.authenticate_api_token(s, plaintext, clock=clock)
        assert found is not None
        principal = Principal.of(found[0], token_scopes=found[1])
    assert principal.can(Permission.EXPORT_SCORES)
    assert not principal.can(Permission.CUSTOMER_READ)  # marketing never reads customer rows
