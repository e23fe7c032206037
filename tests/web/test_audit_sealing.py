"""The web app's audit sealing: after each commit on SQLite, in a background thread on PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bankcrm.audit.models import AuditPending
from conftest import WebBank, login


def _pending(web_bank: WebBank) -> int:
    with web_bank.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditPending)).scalar_one())


def test_views_are_in_the_audit_search_as_soon_as_compliance_asks(
    client: TestClient, web_app: FastAPI, web_bank: WebBank
) -> None:
    runtime = web_app.state.web
    on_postgres = web_bank.engine.dialect.name == "postgresql"
    assert (runtime.sealer is not None) == on_postgres
    if on_postgres:
        runtime.sealer.delay = 30  # the thread would seal only after the assertions below
    login(client, "demo.rm")
    for cid in ("C1", "C3", "C1"):
        assert client.get(f"/api/v1/customers/{cid}").status_code == 200
    if on_postgres:
        assert _pending(web_bank) >= 3  # committed with the views, not yet chained
        assert runtime.sealer.running
    else:
        assert _pending(web_bank) == 0  # sealed right after each commit
    client.cookies.clear()
    login(client, "demo.compliance")
    items = client.get("/api/v1/audit/events", params={"action": "customer.view", "actor": "demo.rm"}).json()["items"]
    assert [e["target_id"] for e in items] == ["C1", "C3", "C1"]  # newest first
    page = client.get("/compliance/audit", params={"action": "customer.view"})
    assert page.status_code == 200 and page.text.count("C3") >= 1


def test_the_app_stops_its_sealer_with_a_last_seal_at_shutdown(web_app: FastAPI, web_bank: WebBank) -> None:
    runtime = web_app.state.web
    if runtime.sealer is None:
        pytest.skip("SQLite seals after each commit: nothing runs in the background")
    runtime.sealer.delay = 30
    with TestClient(web_app, follow_redirects=False) as client:
        login(client, "demo.rm")
        assert client.get("/api/v1/customers/C1").status_code == 200
        assert _pending(web_bank) >= 1
    # the lifespan's shutdown stopped the thread after sealing, without waiting out the delay
    assert not runtime.sealer.running
    assert _pending(web_bank) == 0
