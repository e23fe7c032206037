"""The customer list reads the current run's scores from the customer rows, where publishing puts them.

On SQLite and PostgreSQL: a publish replaces every customer's list scores (None for one the run
did not score), a reassigned customer moves with its scores, a search text is matched literally,
and migration 0013 fills the columns from the run that was current when it ran.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy import Engine, insert, select

from bankcrm.assignments.schemas import Reassignment
from bankcrm.assignments.service import reassign_customers
from bankcrm.audit.service import Actor
from bankcrm.config import Settings
from bankcrm.customers import service
from bankcrm.customers.models import Customer
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.db.migrate import upgrade
from bankcrm.scores import repository as scores_repo
from bankcrm.scores.models import AppState, CustomerScore, NightlyRun
from bankcrm.security.crypto import cipher_for
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import Principal
from bankcrm.staff.models import Branch, Staff, Team
from factories import customer, principal

ACTOR = Actor.user(1, "user", "10.0.0.1")


@pytest.fixture
def bank(any_settings: Settings, any_engine: Engine):
    cipher = cipher_for(any_settings.effective_key_file)
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        s.add(Branch(branch_id="B1", name="b"))
        s.add(Team(team_id="T1", name="t", branch_id="B1"))
        s.flush()
        s.add_all([Staff(staff_id=x, name=x, role="rm", branch_id="B1", team_id="T1") for x in ("S1", "S2")])
        s.flush()
        s.add_all(
            [
                customer(cid, rm, name=name, phone_enc=cipher.encrypt("13812345678", context="phone"))
                for cid, rm, name in (("C1", "S1", "张_三"), ("C2", "S1", "张三丰"), ("C3", "S2", "李四"))
            ]
        )
    return factory, cipher


def publish(engine: Engine, as_of: date, scores: dict[str, tuple[str, float, float]]) -> int:
    """Publish a run scoring the given customers: id -> (tier, value index, 30-day AUM)."""
    factory = session_factory(engine)
    with session_scope(factory) as s:
        run_id = scores_repo.create_run(s, as_of=as_of, engine="duckdb", config_json="{}").id
    ids = list(scores)
    table = pa.table(
        {
            "customer_id": ids,
            "tier": [scores[c][0] for c in ids],
            "tier_raw": [scores[c][0] for c in ids],
            "segment": ["B"] * len(ids),
            "value_class": ["high_value"] * len(ids),
            "value_index": [scores[c][1] for c in ids],
            "aum_avg_30d": [scores[c][2] for c in ids],
        }
    )
    with engine.begin() as conn:
        scores_repo.insert_scores(conn, run_id, table)
    with session_scope(factory) as s:
        scores_repo.publish_run(s, run_id, timings_json="{}", summary_json="{}")
    return run_id


def listing(bank, principal: Principal, **query) -> list[tuple[str, str | None, float | None]]:
    factory, cipher = bank
    with session_scope(factory) as s:
        page = service.list_customers(
            s, principal, service.CustomerQuery(**query), actor=ACTOR, cipher=cipher, masker=Masker()
        )
    return [(r.customer_id, r.tier, r.value_index) for r in page.rows]


def test_a_publish_replaces_every_customers_list_scores(bank, any_engine: Engine) -> None:
    rm = principal("rm", "S1")
    assert listing(bank, rm) == [("C1", None, None), ("C2", None, None)]  # nothing published yet
    assert listing(bank, rm, tier="vip") == []
    publish(any_engine, date(2026, 3, 31), {"C1": ("vip", 0.9, 600_000.0), "C2": ("ordinary", 0.1, 9_000_000.0)})
    assert listing(bank, rm) == [("C1", "vip", 0.9), ("C2", "ordinary", 0.1)]
    assert listing(bank, rm, sort="aum") == [("C2", "ordinary", 0.1), ("C1", "vip", 0.9)]
    assert listing(bank, rm, tier="vip") == [("C1", "vip", 0.9)]
    # the next run no longer scores C1 (say it closed its last account): its old scores must not linger
    publish(any_engine, date(2026, 4, 30), {"C2": ("potential", 0.95, 100.0), "C3": ("vip", 0.5, 1.0)})
    assert listing(bank, rm) == [("C2", "potential", 0.95), ("C1", None, None)]
    assert listing(bank, rm, tier="vip") == []
    assert listing(bank, principal("rm", "S2"), tier="vip") == [("C3", "vip", 0.5)]


def test_a_publish_rewrites_only_the_customers_whose_list_scores_changed(bank, any_engine: Engine) -> None:
    factory, _ = bank
    scores = {"C1": ("vip", 0.9, 600_000.0), "C2": ("ordinary", 0.1, 10.0)}
    first = publish(any_engine, date(2026, 3, 31), scores)
    with session_scope(factory) as s:
        assert scores_repo.copy_list_scores(s, first) == 0  # already there: nothing written
    publish(any_engine, date(2026, 4, 30), {**scores, "C2": ("ordinary", 0.1, 11.0)})
    with session_scope(factory) as s:
        # back to the first run: C2's AUM changes again, C1 is as it was, C3 was never scored
        assert scores_repo.copy_list_scores(s, first) == 1
    assert listing(bank, principal("rm", "S1"), sort="aum") == [("C1", "vip", 0.9), ("C2", "ordinary", 0.1)]


def test_a_reassigned_customer_moves_to_its_new_rm_with_its_scores(bank, any_engine: Engine) -> None:
    factory, _ = bank
    publish(any_engine, date(2026, 3, 31), {"C1": ("vip", 0.9, 1.0), "C3": ("potential", 0.7, 1.0)})
    with session_scope(factory) as s:
        reassign_customers(
            s,
            principal("team_lead", "L1", "T1", "B1"),
            Reassignment(customer_ids=["C3"], to_rm_id="S1", reason="S2 moved to another branch"),
            actor=ACTOR,
        )
    assert listing(bank, principal("rm", "S1")) == [("C1", "vip", 0.9), ("C3", "potential", 0.7), ("C2", None, None)]
    assert listing(bank, principal("rm", "S2")) == []
    assert listing(bank, principal("rm", "S1"), tier="potential") == [("C3", "potential", 0.7)]


def test_a_name_search_matches_wildcard_characters_literally(bank, any_engine: Engine) -> None:
    publish(any_engine, date(2026, 3, 31), {"C1": ("vip", 0.9, 1.0), "C2": ("ordinary", 0.1, 1.0)})
    rm = principal("rm", "S1")
    assert [c for c, _, _ in listing(bank, rm, q="张_")] == ["C1"]  # "_" is not "any one character"
    assert [c for c, _, _ in listing(bank, rm, q="张")] == ["C1", "C2"]
    assert listing(bank, rm, q="%") == []
    assert listing(bank, rm, q="张", page=2) == []


def test_migration_0013_fills_the_list_scores_from_the_current_run(any_settings: Settings) -> None:
    engine = make_engine(any_settings)
    try:
        upgrade(engine, "0012")
        # Core inserts name only the columns given (and those with defaults): the 0012 schema has no
        # published_* columns yet
        with engine.begin() as conn:
            conn.execute(insert(Branch.__table__).values(branch_id="B1", name="b"))
            for cid in ("C1", "C2"):
                conn.execute(
                    insert(Customer.__table__).values(
                        customer_id=cid,
                        name="n",
                        gender="F",
                        birth_date=date(1990, 1, 1),
                        id_number_enc="e",
                        id_number_bidx=cid,
                        phone_enc="e",
                        phone_bidx=cid,
                        onboard_date=date(2020, 1, 1),
                        branch_id="B1",
                    )
                )
            for run_id, tier in ((1, "ordinary"), (2, "vip")):
                conn.execute(
                    insert(NightlyRun.__table__).values(
                        id=run_id, as_of=date(2026, 3, 31), engine="duckdb", status="published", config_json="{}"
                    )
                )
                conn.execute(
                    insert(CustomerScore.__table__).values(
                        run_id=run_id,
                        customer_id="C1",
                        tier=tier,
                        segment="A",
                        value_class="loss",
                        aum_avg_30d=12.5,
                        value_index=0.25,
                    )
                )
            conn.execute(insert(AppState.__table__).values(key="current_run_id", value="2"))
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    Customer.customer_id,
                    Customer.published_tier,
                    Customer.published_segment,
                    Customer.published_value_class,
                    Customer.published_aum_avg_30d,
                    Customer.published_value_index,
                ).order_by(Customer.customer_id)
            ).all()
        assert [tuple(r) for r in rows] == [
            ("C1", "vip", "A", "loss", 12.5, 0.25),  # from run 2, the current one
            ("C2", None, None, None, None, None),
        ]
    finally:
        engine.dispose()
