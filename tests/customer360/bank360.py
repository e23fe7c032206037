"""A small bank for the customer 360 and team-view services: two branches, three teams, a published run.

A module of its own (not conftest.py), so that its names never clash with another folder's conftest
when the whole suite runs in one session; ``conftest.py`` here only makes the fixture visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bankcrm.audit.service import Actor
from bankcrm.config import Settings
from bankcrm.customers.models import ContactVersion, Customer
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.holdings import repository as holdings_repo
from bankcrm.products.models import Account, Product
from bankcrm.scores import repository as scores_repo
from bankcrm.scores.models import CustomerScore, TierHistory
from bankcrm.security.crypto import FieldCipher, cipher_for
from bankcrm.security.permissions import ROLE_PERMISSIONS, Principal
from bankcrm.staff.models import Branch, Staff, Team

AS_OF = date(2026, 6, 30)
PHONES = {"C1": "13812345678", "C2": "13900001111", "C3": "13700002222", "C9": "13600003333"}


def who(role: str, staff_id: str | None = None, team_id: str | None = None, branch_id: str | None = None) -> Principal:
    return Principal(7, f"{role}-{staff_id or 'x'}", role, staff_id, team_id, branch_id, ROLE_PERMISSIONS[role])


RM1 = who("rm", "S1", "T1", "B1")
RM2 = who("rm", "S2", "T1", "B1")
LEAD = who("team_lead", "L1", "T1", "B1")
MANAGER = who("branch_manager", "M1", None, "B1")
COMPLIANCE = who("compliance")
MARKETING = who("marketing")
ACTOR = Actor.user(7, "tester", "10.0.0.9")


@dataclass
class Bank:
    factory: sessionmaker[Session]
    cipher: FieldCipher
    engine: Engine
    settings: Settings
    run_id: int
    previous_run_id: int


def _customer(cipher: FieldCipher, cid: str, rm: str, branch: str) -> Customer:
    return Customer(
        customer_id=cid,
        name="欧阳明华" if cid == "C1" else "张伟",
        gender="F",
        birth_date=date(1980, 5, 1),
        id_number_enc=cipher.encrypt("110105198005011234", context="id_number"),
        id_number_bidx=cipher.blind_index(f"id-{cid}", field="id_number"),
        phone_enc=cipher.encrypt(PHONES[cid], context="phone"),
        phone_bidx=cipher.blind_index(PHONES[cid], field="phone"),
        address_enc=cipher.encrypt("上海市浦东新区世纪大道100号", context="address"),
        email_enc=None,
        occupation="employee",
        income_monthly=Decimal("20000.00"),
        onboard_date=date(2015, 1, 1),
        branch_id=branch,
        rm_id=rm,
        contact_version=1,
    )


def _score(run_id: int, cid: str, **values: object) -> CustomerScore:
    return CustomerScore(run_id=run_id, customer_id=cid, **values)


@pytest.fixture
def bank(any_settings: Settings, any_engine: Engine) -> Bank:
    cipher = cipher_for(any_settings.effective_key_file)
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        s.add_all([Branch(branch_id="B1", name="一支行"), Branch(branch_id="B2", name="二支行")])
        s.flush()
        s.add_all(
            [
                Team(team_id="T1", name="财富一组", branch_id="B1", lead_staff_id="L1"),
                Team(team_id="T2", name="财富二组", branch_id="B1"),
                Team(team_id="T3", name="财富三组", branch_id="B2"),
            ]
        )
        s.flush()
        staff = [
            ("S1", "rm", "T1", "B1", 100),
            ("S2", "rm", "T1", "B1", None),
            ("S3", "rm", "T2", "B1", None),
            ("S9", "rm", "T3", "B2", None),
            ("L1", "team_lead", "T1", "B1", None),
            ("M1", "branch_manager", None, "B1", None),
        ]
        s.add_all(
            [
                Staff(staff_id=i, name=f"经理{i}", role=r, team_id=t, branch_id=b, capacity=c, level="senior")
                for i, r, t, b, c in staff
            ]
        )
        s.flush()
        s.add_all(
            [
                _customer(cipher, "C1", "S1", "B1"),
                _customer(cipher, "C2", "S2", "B1"),
                _customer(cipher, "C3", "S3", "B1"),
                _customer(cipher, "C9", "S9", "B2"),
            ]
        )
        s.flush()
        s.add(
            ContactVersion(
                customer_id="C1",
                version=1,
                phone_enc=cipher.encrypt(PHONES["C1"], context="phone"),
                source="extract",
                reason="first load",
            )
        )
        s.add_all(
            [
                Product(product_id="P_DEP", name="活期存款", category="deposit_current"),
                Product(product_id="P_FUND", name="稳健债券基金", category="fund", risk_level="R2"),
                Product(product_id="P_LOAN", name="个人住房贷款", category="loan_mortgage"),
            ]
        )
        s.flush()
        s.add_all(
            [
                Account(account_id="A1", customer_id="C1", product_id="P_DEP", opened_on=date(2020, 1, 1)),
                Account(account_id="A2", customer_id="C1", product_id="P_FUND", opened_on=date(2024, 3, 1)),
                Account(account_id="A3", customer_id="C1", product_id="P_LOAN", opened_on=date(2021, 7, 1)),
                Account(account_id="A4", customer_id="C2", product_id="P_DEP", opened_on=date(2022, 1, 1)),
            ]
        )
        previous = scores_repo.create_run(s, as_of=date(2026, 5, 31), engine="duckdb", config_json="{}")
        s.flush()
        scores_repo.publish_run(s, previous.id, timings_json="{}", summary_json="{}")
        run = scores_repo.create_run(s, as_of=AS_OF, engine="duckdb", config_json="{}")
        s.flush()
        profile = [
            {"segment": "B", "customers": 10, "mean_current_value": 80.0, "mean_potential_value": 40.0},
            {"segment": "A", "customers": 30, "mean_current_value": 30.0, "mean_potential_value": 70.0},
        ]
        s.add_all(
            [
                _score(
                    run.id,
                    "C1",
                    tier="vip",
                    tier_raw="vip",
                    segment="B",
                    aum_avg_30d=600123.456,
                    current_value=72.5,
                    potential_value=31.0,
                    value_index=60.2,
                    value_class="high_value",
                ),
                _score(
                    run.id,
                    "C2",
                    tier="ordinary",
                    tier_raw="ordinary",
                    segment="A",
                    aum_avg_30d=1000.0,
                    current_value=20.0,
                    potential_value=55.0,
                ),
                _score(run.id, "C3", tier="vip", tier_raw="vip", segment="B", aum_avg_30d=900000.0),
                _score(previous.id, "C1", tier="potential", aum_avg_30d=1.0),
            ]
        )
        s.add_all(
            [
                TierHistory(
                    run_id=previous.id, customer_id="C1", as_of=date(2026, 5, 31), tier_raw="vip", tier="potential"
                ),
                TierHistory(run_id=run.id, customer_id="C1", as_of=AS_OF, tier_raw="vip", tier="vip"),
            ]
        )
        s.flush()  # a run is published once its scores are in
        scores_repo.publish_run(s, run.id, timings_json="{}", summary_json=json.dumps({"segment_profile": profile}))
        run_id, previous_id = run.id, previous.id
    positions = pa.table(
        {
            "account_id": ["A1", "A2", "A3", "A4"],
            "customer_id": ["C1", "C1", "C1", "C2"],
            "product_id": ["P_DEP", "P_FUND", "P_LOAN", "P_DEP"],
            "category": ["deposit_current", "fund", "loan_mortgage", "deposit_current"],
            "balance": [100000.5, 300000.25, 800000.0, 1000.0],
            "balance_avg_30d": [90000.0, 300000.0, 805000.0, 1000.0],
        }
    )
    trend = pa.table(
        {
            "customer_id": ["C1", "C1"],
            "month_end": pa.array([date(2026, 5, 31), AS_OF], pa.date32()),
            "aum": [350000.0, 400000.75],
            "aum_avg": [340000.0, 390000.0],
            "liability": [805000.0, 800000.0],
        }
    )
    with any_engine.begin() as conn:
        holdings_repo.insert_positions(conn, run_id, positions)
        holdings_repo.insert_month_aum(conn, run_id, trend)
    return Bank(factory, cipher, any_engine, any_settings, run_id, previous_id)
