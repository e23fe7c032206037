"""The "maturing soon" filter of the customer list: open time deposits and wealth products, in scope only."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bankcrm.audit.models import AuditEvent
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.products.models import Account, Product
from conftest import WebBank, login

TODAY = date(2026, 11, 26)  # the web bank's clock, in Asia/Shanghai


def _accounts(bank: WebBank) -> None:
    with session_scope(session_factory(bank.engine)) as s:
        s.add_all(
            [
                Product(product_id="W1", name="Wealth 90D", category="wealth", risk_level="R2"),
                Product(product_id="D1", name="Current account", category="deposit_current", risk_level="R1"),
            ]
        )
        s.flush()

        def account(aid: str, cid: str, product: str, maturity: date | None, closed: date | None = None) -> Account:
            return Account(
                account_id=aid,
                customer_id=cid,
                product_id=product,
                opened_on=date(2025, 1, 1),
                maturity_on=maturity,
                closed_on=closed,
            )

        s.add_all(
            [
                account("A1", "C1", "P1", TODAY + timedelta(days=10)),  # time deposit, in 10 days
                account("A2", "C3", "W1", TODAY + timedelta(days=60)),  # wealth product, in 60 days
                account("A3", "C3", "P1", TODAY + timedelta(days=5), closed=TODAY - timedelta(days=3)),  # closed
                account("A4", "C3", "D1", TODAY + timedelta(days=1)),  # a current account does not mature
                account("A5", "C1", "P1", TODAY - timedelta(days=1)),  # matured yesterday
                account("A6", "C2", "P1", TODAY + timedelta(days=3)),  # another RM's customer
            ]
        )


def _ids(client: TestClient, **params: object) -> list[str]:
    response = client.get("/api/v1/customers", params=params)
    assert response.status_code == 200, response.text
    return sorted(item["customer_id"] for item in response.json()["items"])


def test_maturing_within_days_finds_open_deposits_and_wealth_products_in_scope(
    client: TestClient, web_app: FastAPI, web_bank: WebBank
) -> None:
    _accounts(web_bank)
    login(client, "demo.rm")
    assert _ids(client) == ["C1", "C3"]
    assert _ids(client, maturing_within_days=7) == []
    assert _ids(client, maturing_within_days=10) == ["C1"]
    assert _ids(client, maturing_within_days=90) == ["C1", "C3"]
    assert _ids(client, maturing_within_days=90, tier="vip") == ["C1"]
    assert client.get("/api/v1/customers", params={"maturing_within_days": 400}).status_code == 422
    web_app.state.web.flush_audit()  # PostgreSQL: the app seals in the background
    with session_scope(session_factory(web_bank.engine)) as s:
        last = s.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
        assert last is not None and '"maturing_within_days":90' in last.details_json


def test_workbench_filters_by_maturity(client: TestClient, web_bank: WebBank) -> None:
    _accounts(web_bank)
    login(client, "demo.rm")
    page = client.get("/", params={"maturing": "30"})
    assert page.status_code == 200
    assert 'href="/customers/C1"' in page.text and 'href="/customers/C3"' not in page.text
    assert '<option value="30" selected>' in page.text
    everyone = client.get("/", params={"maturing": "45"})  # an unknown choice is no filter
    assert 'href="/customers/C1"' in everyone.text and 'href="/customers/C3"' in everyone.text
