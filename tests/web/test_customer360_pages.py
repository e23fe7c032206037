"""The customer 360 sections, the transactions page, contact forms and the team page, through the web app."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from bankcrm import lake
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.holdings import repository as holdings_repo
from bankcrm.products.models import Account
from bankcrm.scores import repository as scores_repo
from bankcrm.staff.models import Staff
from conftest import PHONE_C1, ROLE_USER, WebBank, login


@pytest.fixture
def bank360(web_bank: WebBank) -> WebBank:
    """The web bank plus an account of C1 with published positions and trend, its transactions, a second RM in T1."""
    with session_scope(session_factory(web_bank.engine)) as s:
        s.add(Staff(staff_id="S3", name="RM three", role="rm", branch_id="B1", team_id="T1", active=True))
        s.add(Account(account_id="A1", customer_id="C1", product_id="P1", opened_on=date(2024, 1, 1)))
        run_id = scores_repo.current_run_id(s)
        assert run_id is not None
    with web_bank.engine.begin() as conn:
        holdings_repo.insert_positions(
            conn,
            run_id,
            pa.table(
                {
                    "account_id": ["A1"],
                    "customer_id": ["C1"],
                    "product_id": ["P1"],
                    "category": ["deposit_time"],
                    "balance": [1234567.89],
                    "balance_avg_30d": [1200000.0],
                }
            ),
        )
        holdings_repo.insert_month_aum(
            conn,
            run_id,
            pa.table(
                {
                    "customer_id": ["C1"],
                    "month_end": pa.array([date(2026, 11, 25)], pa.date32()),
                    "aum": [1234567.89],
                    "aum_avg": [1200000.0],
                    "liability": [0.0],
                }
            ),
        )
    folder = lake.month_dir(web_bank.settings.lake_dir, "transactions", "2026-11")
    folder.mkdir(parents=True)
    rows = [
        {
            "tx_id": f"T{i}",
            "account_id": "A1",
            "ts": datetime(2026, 11, i, 2, 0, tzinfo=UTC),
            "tx_date": date(2026, 11, i),
            "amount": Decimal("-88.00"),
            "channel": "mobile",
            "category": "purchase" if i % 2 else "transfer_out",
            "merchant_group": "travel",
            "counterparty": "cp_abcdef0123456789abcd",
        }
        for i in range(1, 26)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=lake.FACT_SCHEMAS["transactions"]), folder / "data_0.parquet")
    return web_bank


@pytest.fixture
def app360(bank360: WebBank):
    from bankcrm.web import create_app

    app = create_app(bank360.settings, engine=bank360.engine, hasher=bank360.hasher, clock=bank360.clock)
    yield app
    if app.state.web.sealer is not None:  # PostgreSQL: stop the background sealer before the schema goes
        app.state.web.sealer.stop()


@pytest.fixture
def rm(app360) -> tuple[TestClient, str]:
    client = TestClient(app360, follow_redirects=False)
    return client, login(client, ROLE_USER["rm"])


def test_360_page_shows_holdings_trend_chart_and_forms_without_inline_script(rm) -> None:
    client, _ = rm
    page = client.get("/customers/C1")
    assert page.status_code == 200
    html = page.text
    for section in ('id="holdings"', 'id="aum-trend"', 'id="interactions"', 'id="contact"'):
        assert section in html
    assert "¥1,234,567.89" in html
    assert (
        '<script src="/assets/plotly.min.js"></script>' in html
        and '<script src="/static/aum_chart.js"></script>' in html
    )
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script (CSP script-src 'self')"
    series = json.loads(re.search(r'data-series="([^"]*)"', html).group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert len(series["month_end"]) == 12 and series["aum"][-1] == 1234567.89
    assert PHONE_C1 not in html
    script = client.get("/assets/plotly.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/static/aum_chart.js").status_code == 200
    css = client.get("/assets/plotly.css")
    assert css.status_code == 200 and ".js-plotly-plot .plotly .main-svg{position:absolute" in css.text


def test_log_a_contact_and_correct_contact_details_from_the_page(rm) -> None:
    client, csrf = rm
    logged = client.post(
        "/customers/C1/interactions",
        data={
            "channel": "visit",
            "purpose": "review",
            "occurred_at": "2026-11-26T08:30",
            "notes": "到访网点，讨论定期到期后的安排",
            "next_step": "发送理财产品说明",
            "next_step_on": "2026-11-30",
            "csrf_token": csrf,
        },
    )
    assert logged.status_code == 303 and logged.headers["location"] == "/customers/C1#interactions"
    corrected = client.post(
        "/customers/C1/contact",
        data={"phone": "13812340000", "occupation": "retired", "reason": "客户来电更正", "csrf_token": csrf},
    )
    assert corrected.status_code == 303
    html = client.get("/customers/C1").text
    assert "到访网点，讨论定期到期后的安排" in html and "2026-11-26 08:30:00" in html
    assert "138****0000" in html and "13812340000" not in html
    refused = client.post("/customers/C1/contact", data={"occupation": "retired", "reason": "x", "csrf_token": csrf})
    assert refused.status_code == 400
    # another RM's customer is not found, and a form without the CSRF token is refused
    assert (
        client.post(
            "/customers/C2/interactions", data={"channel": "call", "purpose": "care", "csrf_token": csrf}
        ).status_code
        == 404
    )
    assert client.post("/customers/C1/interactions", data={"channel": "call", "purpose": "care"}).status_code == 403


def test_transactions_page_newest_first_paged_filtered_and_masked(rm) -> None:
    client, _ = rm
    first = client.get("/customers/C1/transactions")
    assert first.status_code == 200
    assert "cp_abcd****" in first.text and "cp_abcdef0123456789abcd" not in first.text
    assert first.text.index("2026-11-25 10:00:00") < first.text.index("2026-11-24 10:00:00")
    assert "?page=2" in first.text
    second = client.get("/customers/C1/transactions?page=2")
    assert "2026-11-05 10:00:00" in second.text and "?page=3" not in second.text
    purchases = client.get("/customers/C1/transactions?month=2026-11&category=purchase")
    assert "2026-11-24 10:00:00" not in purchases.text and "2026-11-25 10:00:00" in purchases.text
    assert client.get("/customers/C1/transactions?month=2026-13").status_code == 400
    assert client.get("/customers/C2/transactions").status_code == 404
    api = client.get("/api/v1/customers/C1/transactions", params={"page_size": 5})
    assert api.status_code == 200
    body = api.json()
    assert [i["tx_id"] for i in body["items"]] == ["T25", "T24", "T23", "T22", "T21"] and body["has_next"]


def test_team_lead_reassigns_on_the_team_page(app360) -> None:
    client = TestClient(app360, follow_redirects=False)
    csrf = login(client, ROLE_USER["team_lead"])
    team = client.get("/team")
    assert team.status_code == 200 and "RM three" in team.text and "¥1,234,567.89" in team.text
    moved = client.post(
        "/team/reassign", data={"customer_ids": ["C3"], "to_rm_id": "S3", "reason": "客户经理调岗", "csrf_token": csrf}
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/team?moved=1"
    assert (
        client.post(
            "/team/reassign", data={"customer_ids": ["C2"], "to_rm_id": "S3", "reason": "越权调整", "csrf_token": csrf}
        ).status_code
        == 404
    )
    history = client.get("/api/v1/customers/C3/assignments").json()
    assert [(h["from_rm_id"], h["to_rm_id"]) for h in history] == [("S1", "S3")]
    workload = {w["staff_id"]: w for w in client.get("/api/v1/team/workload").json()}
    assert (workload["S1"]["customers"], workload["S3"]["customers"]) == (1, 1)
    # the RM no longer sees the customer
    rm_client = TestClient(app360, follow_redirects=False)
    login(rm_client, ROLE_USER["rm"])
    assert rm_client.get("/customers/C3").status_code == 404


def test_json_sections(rm) -> None:
    client, csrf = rm
    holdings = client.get("/api/v1/customers/C1/holdings").json()
    assert holdings["total_assets"] == "1234567.89" and holdings["categories"][0]["category"] == "deposit_time"
    trend = client.get("/api/v1/customers/C1/aum-trend").json()
    assert len(trend["points"]) == 12 and trend["points"][-1]["aum"] == "1234567.89"
    value = client.get("/api/v1/customers/C1/value").json()
    assert value["tier"] == "vip" and [t["tier"] for t in value["tier_history"]] == ["vip"]
    created = client.post(
        "/api/v1/customers/C1/interactions",
        json={"channel": "wecom", "purpose": "care", "notes": "节日问候"},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 201
    assert client.get("/api/v1/customers/C1/interactions").json()["items"][0]["notes"] == "节日问候"
    stale = client.post(
        "/api/v1/customers/C1/contact",
        json={"occupation": "retired", "reason": "更正职业", "expected_version": 99},
        headers={"X-CSRF-Token": csrf},
    )
    assert stale.status_code == 409
