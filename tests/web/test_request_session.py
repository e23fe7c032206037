"""The request's database session (``DbSession``): committed after the route, rolled back when it raises,
and ``Call`` (``ApiCall.run``) authenticating, running a route's work and committing in a single worker thread."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bankcrm.audit.models import AuditEvent
from bankcrm.scores.models import AppState
from bankcrm.web import app_from_environment
from bankcrm.web.app import create_app
from bankcrm.web.deps import Call, DbSession
from conftest import ROLE_USER, WebBank, login


class Boom(Exception):
    pass


def _stored(bank: WebBank, key: str) -> str | None:
    with Session(bank.engine) as s:
        return s.scalar(select(AppState.value).where(AppState.key == key))


@pytest.fixture
def probe(web_bank: WebBank) -> Iterator[tuple[TestClient, FastAPI, list[tuple[str, int]]]]:
    """The app with three probe routes that write an ``app_state`` row; records which thread committed."""
    app = create_app(web_bank.settings, engine=web_bank.engine, hasher=web_bank.hasher, clock=web_bank.clock)
    commits: list[tuple[str, int]] = []
    worked_in: list[int] = []

    @event.listens_for(app.state.web.sessions, "after_commit")
    def _committed(session: Session) -> None:
        commits.append(("commit", threading.get_ident()))

    @app.post("/api/v1/probe/plain")
    def plain(db: DbSession) -> dict[str, str]:
        db.add(AppState(key="probe.plain", value="kept"))
        return {"ok": "yes"}

    @app.post("/api/v1/probe/raises")
    def raises(db: DbSession) -> dict[str, str]:
        db.add(AppState(key="probe.raises", value="must not stay"))
        db.flush()  # the row reached the database inside the request's transaction
        raise Boom()

    @app.get("/api/v1/probe/one-thread")
    async def one_thread(call: Call) -> dict[str, str]:
        def work(db, auth, actor) -> str:
            worked_in.append(threading.get_ident())
            db.add(AppState(key="probe.one", value=f"kept for {auth.user.username} as {actor.name}"))
            return "yes"

        return {"ok": await call.run(work)}

    @app.get("/api/v1/probe/call-raises")
    async def call_raises(call: Call) -> dict[str, str]:
        def work(db, auth, actor) -> str:
            db.add(AppState(key="probe.call-raises", value="must not stay"))
            db.flush()
            raise Boom()

        return {"ok": await call.run(work)}

    app.state.worked_in = worked_in
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client, app, commits
    if app.state.web.sealer is not None:
        app.state.web.sealer.stop()


def _connections_out(client: TestClient, web_bank: WebBank) -> int:
    """Connections checked out of the pool once the background sealer (PostgreSQL) has stopped.

    The requests' audit events wake the sealer, whose round may hold a connection of its own
    at any moment; stopping it first leaves only what a request failed to return.
    """
    sealer = client.app.state.web.sealer  # type: ignore[attr-defined]
    if sealer is not None:
        sealer.stop()
    return int(web_bank.engine.pool.checkedout())  # type: ignore[attr-defined]


def test_a_plain_route_is_committed_after_it_returns(probe, web_bank: WebBank) -> None:
    client, _, commits = probe
    response = client.post("/api/v1/probe/plain", headers={"Authorization": "Bearer x"})  # a bearer call needs no CSRF
    assert response.status_code == 200
    assert _stored(web_bank, "probe.plain") == "kept"
    assert len(commits) == 1


def test_a_route_that_raises_is_rolled_back_and_its_connection_returned(probe, web_bank: WebBank) -> None:
    client, _, commits = probe
    response = client.post("/api/v1/probe/raises", headers={"Authorization": "Bearer x"})
    assert response.status_code == 500
    assert _stored(web_bank, "probe.raises") is None
    assert commits == []
    assert _connections_out(client, web_bank) == 0


def test_a_call_authenticates_works_and_commits_in_one_thread_and_only_once(probe, web_bank: WebBank) -> None:
    client, app, commits = probe
    login(client, ROLE_USER["rm"])
    commits.clear()  # the login's own
    response = client.get("/api/v1/probe/one-thread")
    assert response.json() == {"ok": "yes"}
    assert _stored(web_bank, "probe.one") == f"kept for {ROLE_USER['rm']} as {ROLE_USER['rm']}"
    # one commit, in the worker thread the work ran in (not a second one when the request ends)
    assert commits == [("commit", app.state.worked_in[0])]
    assert _connections_out(client, web_bank) == 0


def test_a_call_whose_work_raises_is_rolled_back_and_its_connection_returned(probe, web_bank: WebBank) -> None:
    client, _, commits = probe
    login(client, ROLE_USER["rm"])
    commits.clear()
    assert client.get("/api/v1/probe/call-raises").status_code == 500
    assert _stored(web_bank, "probe.call-raises") is None
    assert commits == []
    assert _connections_out(client, web_bank) == 0


def test_a_call_without_valid_credentials_is_refused_before_any_work(probe, web_bank: WebBank) -> None:
    client, app, commits = probe
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = client.get("/api/v1/probe/one-thread", headers=headers)
        assert response.status_code == 401, headers
    assert app.state.worked_in == [] and commits == []
    assert _stored(web_bank, "probe.one") is None
    assert _connections_out(client, web_bank) == 0


def test_the_customer_api_audits_each_view_once(web_bank: WebBank, web_app: FastAPI, client: TestClient) -> None:
    login(client, ROLE_USER["rm"])

    def lists() -> int:
        web_app.state.web.flush_audit()  # PostgreSQL seals in the background
        with Session(web_bank.engine) as s:
            return len(s.scalars(select(AuditEvent.seq).where(AuditEvent.action == "customer.list")).all())

    lists_before = lists()
    assert client.get("/api/v1/customers/C1").status_code == 200
    assert client.get("/api/v1/customers").status_code == 200
    assert client.get("/api/v1/customers/C2").status_code == 404  # another RM's customer
    assert lists() == lists_before + 1
    with Session(web_bank.engine) as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.target_id.in_(["C1", "C2"]))))
    assert actions == ["customer.view"]


def test_the_server_factory_freezes_what_start_up_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKCRM_HOME", str(tmp_path))
    monkeypatch.delenv("BANKCRM_DATABASE_URL", raising=False)
    gc.unfreeze()
    try:
        app = app_from_environment()
        assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() >= len(app.routes)
    finally:
        gc.unfreeze()


def test_api_routes_are_matched_before_page_routes_and_no_page_claims_the_api_prefix(web_app: FastAPI) -> None:
    """The app adds the API routers first (the busiest requests match sooner); that changes no answer
    only while no page path starts with the API's prefix."""
    from bankcrm.web.app import API_PREFIX, routes_in_match_order

    paths = [
        getattr(ctx, "path", None) or getattr(getattr(ctx, "original_route", ctx), "path", "")
        for ctx in routes_in_match_order(web_app)
    ]
    assert not [p for p in paths if p.startswith("/api") and not p.startswith(API_PREFIX + "/")]
    api = [n for n, p in enumerate(paths) if p.startswith(API_PREFIX)]
    pages = [
        n for n, p in enumerate(paths) if not p.startswith((API_PREFIX, "/openapi.json", "/static", "/docs-assets"))
    ]
    assert api and pages and max(api) < min(pages)
