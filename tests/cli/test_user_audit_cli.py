"""bankcrm user … and bankcrm audit … through the real command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.security import service
from bankcrm.security.passwords import hasher_for
from bankcrm.staff.models import Branch, Staff, Team

runner = CliRunner()
GOOD = "Correct horse 42"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKCRM_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("BANKCRM_PASSWORD_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("BANKCRM_PASSWORD_HASH_PARALLELISM", "1")


def where(settings: Settings) -> list[str]:
    args = ["--home", str(settings.home)]
    return [*args, "--database-url", settings.database_url] if settings.database_url else args


def bankcrm(settings: Settings, *args: str, input: str | None = None):
    return runner.invoke(app, [*args, *where(settings)], input=input)


def test_user_add_list_and_refusals(any_settings: Settings) -> None:
    ok = bankcrm(
        any_settings, "user", "add", "ops", "--role", "admin", "--name", "运维", "--password-stdin", input=GOOD + "\n"
    )
    assert ok.exit_code == 0, ok.output
    assert "added ops (admin)" in ok.output
    listed = bankcrm(any_settings, "user", "list")
    assert listed.exit_code == 0 and "ops" in listed.output and "admin" in listed.output and "active" in listed.output
    assert GOOD not in listed.output

    cases = [
        (["ops", "--role", "admin"], GOOD, "user ops already exists"),
        (["weak", "--role", "admin"], "short1A", "at least 12 characters"),
        (["digits", "--role", "admin"], "123456789012", "at least two of"),
        (["rmx", "--role", "rm"], GOOD, "needs --staff-id"),
        (["rmy", "--role", "rm", "--staff-id", "S404"], GOOD, "no staff member S404"),
        (["boss", "--role", "boss"], GOOD, "expected one of rm, team_lead, branch_manager"),
        (["Bad Name", "--role", "admin"], GOOD, "usernames are 2–64 characters"),
    ]
    for args, password, message in cases:
        result = bankcrm(any_settings, "user", "add", *args, "--password-stdin", input=password + "\n")
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_password_is_never_an_argument_and_the_prompt_asks_twice(any_settings: Settings) -> None:
    as_arg = bankcrm(any_settings, "user", "add", "x1", "--role", "admin", "--password", GOOD)
    assert as_arg.exit_code != 0 and "No such option" in as_arg.output
    mismatch = bankcrm(any_settings, "user", "add", "x1", "--role", "admin", input=f"{GOOD}\n{GOOD}x\n{GOOD}\n{GOOD}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output and "added x1 (admin)" in mismatch.output


def test_rm_user_gets_its_scope_disable_and_reset_password(any_settings: Settings) -> None:
    engine = make_engine(any_settings)
    assert bankcrm(any_settings, "db", "upgrade").exit_code == 0
    factory = session_factory(engine)
    with session_scope(factory) as s:
        s.add(Branch(branch_id="B1", name="b"))
        s.flush()
        s.add(Team(team_id="T1", name="t", branch_id="B1"))
        s.flush()
        s.add(Staff(staff_id="S1", name="王经理", role="rm", branch_id="B1", team_id="T1"))
    added = bankcrm(
        any_settings, "user", "add", "wang", "--role", "rm", "--staff-id", "S1", "--password-stdin", input=GOOD
    )
    assert added.exit_code == 0, added.output
    hasher = hasher_for(Settings(home=any_settings.home))
    with session_scope(factory) as s:
        for _ in range(2):
            assert service.login(s, "wang", GOOD, hasher=hasher).ok
        user = service.list_users(s)[0]
        assert (user.team_id, user.branch_id, user.display_name) == ("T1", "B1", "王经理")

    reset = bankcrm(any_settings, "user", "reset-password", "wang", "--password-stdin", input="Another secret 7\n")
    assert reset.exit_code == 0, reset.output
    assert "password reset for wang; 2 session(s) ended" in reset.output
    weak = bankcrm(any_settings, "user", "reset-password", "wang", "--password-stdin", input="wang-Password-1\n")
    assert weak.exit_code == 2 and "must not contain the username" in weak.output

    assert bankcrm(any_settings, "user", "disable", "wang").exit_code == 0
    with session_scope(factory) as s:
        assert not service.login(s, "wang", "Another secret 7", hasher=hasher).ok
    ghost = bankcrm(any_settings, "user", "disable", "ghost")
    assert ghost.exit_code == 2 and "no user ghost" in ghost.output
    listed = bankcrm(any_settings, "user", "list")
    assert "disabled" in listed.output

    shown = bankcrm(any_settings, "audit", "show", "--action", "user.", "--json")
    assert shown.exit_code == 0, shown.output
    actions = [json.loads(line)["action"] for line in shown.output.splitlines()]
    assert actions == ["user.disable", "user.password_reset", "user.create"]
    engine.dispose()


def test_audit_verify_catches_an_edited_and_a_deleted_row(any_settings: Settings) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        assert (
            bankcrm(any_settings, "user", "add", name, "--role", "compliance", "--password-stdin", input=GOOD).exit_code
            == 0
        )
    ok = bankcrm(any_settings, "audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "audit chain intact: 4 rows checked" in ok.output

    engine = make_engine(any_settings)
    with engine.begin() as conn:
        conn.execute(text('UPDATE audit_events SET details_json = \'{"role":"admin"}\' WHERE seq = 2'))
    edited = bankcrm(any_settings, "audit", "verify")
    assert edited.exit_code == 1
    assert "audit chain broken at sequence 2" in edited.output and "edited" in edited.output

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    deleted = bankcrm(any_settings, "audit", "verify")
    assert deleted.exit_code == 1
    assert "audit chain broken at sequence 2" in deleted.output and "missing" in deleted.output
    engine.dispose()


def test_audit_purge_refused_and_show_filters(any_settings: Settings) -> None:
    refused = bankcrm(any_settings, "audit", "purge", "--older-than-days", "90")
    assert refused.exit_code == 2 and "kept at least 183 days" in refused.output
    nothing = bankcrm(any_settings, "audit", "purge")
    assert nothing.exit_code == 0 and "nothing older than 365 days" in nothing.output
    changed = bankcrm(any_settings, "config", "set", "vip_aum_threshold=600000")
    assert changed.exit_code == 0, changed.output
    table = bankcrm(any_settings, "audit", "show", "--actor", "cli", "--action", "config.change")
    assert table.exit_code == 0 and "1 audit event(s)" in table.output
    shown = bankcrm(any_settings, "audit", "show", "--action", "config.change", "--since", "2020-01-01", "--json")
    event = json.loads(shown.output)
    assert event["actor"] == "cli" and event["details"]["after"] == {"vip_aum_threshold": 600000}
    bad = bankcrm(any_settings, "audit", "show", "--since", "yesterday")
    assert bad.exit_code == 2 and "expected an ISO date" in bad.output
