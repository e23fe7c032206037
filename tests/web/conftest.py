"""Fixtures for the web tests: a small hand-made bank with one demo login per role, the app over it.

- ``web_bank``: the bank on SQLite and PostgreSQL (parametrised through ``any_settings``): branches
  B1/B2, teams T1/T2, RMs S1 (B1/T1, customers C1 and C3) and S2 (B2/T2, customer C2), a product,
  and a published nightly run with scores and tier history; plus the demo logins
  (``bankcrm.security.demo.DEMO_USERS``, the RM bound to S1).
- ``web_app``: ``create_app`` over that bank with a cheap password hasher and a clock the test moves.
- ``client``: a TestClient; ``login(client, username)`` logs in and returns the CSRF token.
- ``live_server``: the same app served by uvicorn on a free local port (for browser tests):
  yields the base URL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bankcrm.audit.service import Actor
from bankcrm.config import Settings
from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.products.models import Product
from bankcrm.scores import repository as scores_repo
from bankcrm.scores.models import CustomerScore, NightlyRun, TierHistory
from bankcrm.security.crypto import cipher_for
from bankcrm.security.demo import DEMO_USERS, create_demo_users
from bankcrm.security.passwords import PasswordHasher
from bankcrm.staff.models import Branch, Staff, Team
from bankcrm.web import create_app

ROLE_USER = {role: username for username, (role, _) in DEMO_USERS.items()}
PASSWORDS = {username: password for username, (_, password) in DEMO_USERS.items()}
PHONE_C1 = "13812345678"
ID_C1 = "110105199001011234"


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class WebBank:
    settings: Settings
    engine: Engine
    clock: MovableClock
    hasher: PasswordHasher


def _customer(cipher, cid: str, rm: str, branch: str, phone: str, id_number: str, name: str) -> Customer:
    return Customer(
        customer_id=cid,
        name=name,
        gender="F",
        birth_date=date(1990, 1, 1),
        id_number_enc=cipher.encrypt(id_number, context="id_number"),
        id_number_bidx=cipher.blind_index(id_number, field="id_number"),
        phone_enc=cipher.encrypt(phone, context="phone"),
        phone_bidx=cipher.blind_index(phone, field="phone"),
        address_enc=cipher.encrypt("北京市朝阳区建国路88号", context="address"),
        email_enc=None,
        onboard_date=date(2020, 1, 1),
        branch_id=branch,
        rm_id=rm,
    )


def build_bank(settings: Settings, engine: Engine, hasher: PasswordHasher, clock: MovableClock) -> None:
    cipher = cipher_for(settings.effective_key_file)
    with session_scope(session_factory(engine)) as s:
        s.add_all([Branch(branch_id="B1", name="Chaoyang"), Branch(branch_id="B2", name="Haidian")])
        s.flush()
        s.add_all(
            [Team(team_id="T1", name="Wealth 1", branch_id="B1"), Team(team_id="T2", name="Wealth 2", branch_id="B2")]
        )
        s.flush()
        s.add_all(
            [
                Staff(staff_id="S1", name="RM one", role="rm", branch_id="B1", team_id="T1", active=True),
                Staff(staff_id="S2", name="RM two", role="rm", branch_id="B2", team_id="T2", active=True),
            ]
        )
        s.add(Product(product_id="P1", name="Time deposit 1Y", category="deposit_time", risk_level="R1"))
        s.flush()
        s.add_all(
            [
                _customer(cipher, "C1", "S1", "B1", PHONE_C1, ID_C1, "欧阳明华"),
                _customer(cipher, "C3", "S1", "B1", "13900001111", "110105198001011111", "李四"),
                _customer(cipher, "C2", "S2", "B2", "13700002222", "110105197001012222", "王五"),
            ]
        )
        s.flush()
        run = NightlyRun(as_of=date(2026, 11, 25), engine="duckdb", status="published", config_json="{}")
        s.add(run)
        s.flush()
        for cid, tier, vi, aum in (
            ("C1", "vip", 0.9, 1234567.891),
            ("C3", "ordinary", 0.2, 100.0),
            ("C2", "potential", 0.5, 5000.0),
        ):
            s.add(
                CustomerScore(
                    run_id=run.id,
                    customer_id=cid,
                    tier=tier,
                    tier_raw=tier,
                    segment="A",
                    value_class="high_value",
                    value_index=vi,
                    aum_avg_30d=aum,
                )
            )
            s.add(TierHistory(run_id=run.id, customer_id=cid, as_of=run.as_of, tier_raw=tier, tier=tier))
        s.flush()
        scores_repo.publish_run(s, run.id, timings_json="{}", summary_json="{}")
        s.flush()
        create_demo_users(s, hasher=hasher, actor=Actor.cli(), clock=clock)


@pytest.fixture
def web_bank(any_settings: Settings, any_engine: Engine) -> WebBank:
    clock = MovableClock()
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=1024, parallelism=1)
    build_bank(any_settings, any_engine, hasher, clock)
    return WebBank(any_settings, any_engine, clock, hasher)


@pytest.fixture
def web_app(web_bank: WebBank) -> Iterator[FastAPI]:
    app = create_app(web_bank.settings, engine=web_bank.engine, hasher=web_bank.hasher, clock=web_bank.clock)
    yield app
    sealer = app.state.web.sealer
    if sealer is not None:  # PostgreSQL: stop the background sealer before the test's schema goes
        sealer.stop()


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, follow_redirects=False) as c:
        yield c


def csrf_of_form(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def login(client: TestClient, username: str, password: str | None = None) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password or PASSWORDS[username], "csrf_token": csrf_of_form(form.text)},
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    return csrf_of_form(home.text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(web_app: FastAPI) -> Iterator[str]:
    """The app on a real local port (uvicorn in a thread); yields ``http://127.0.0.1:PORT``."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
