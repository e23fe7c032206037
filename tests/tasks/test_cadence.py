"""Contact plans per tier (SPEC 5.1): contact tasks when the last counted contact is too old; coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import Engine, select

from bankcrm.customers.models import Interaction
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import repository as scores_repo
from bankcrm.security.permissions import ROLE_PERMISSIONS, PermissionDenied, Principal
from bankcrm.staff.models import Branch, Staff, Team
from bankcrm.tasks import service
from bankcrm.tasks.cadence import cadence_report
from bankcrm.tasks.models import Rule, Task
from factories import customer

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TIERS = {"C1": "vip", "C2": "vip", "C3": "potential", "C4": "ordinary"}


@pytest.fixture
def bank(any_engine: Engine):
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        s.add(Branch(branch_id="B1", name="b"))
        s.flush()
        s.add(Team(team_id="T1", name="t", branch_id="B1"))
        s.flush()
        s.add_all([Staff(staff_id=x, name=x, role="rm", branch_id="B1", team_id="T1") for x in ("S1", "S2")])
        s.flush()
        for cid in TIERS:
            s.add(customer(cid, "S2" if cid == "C4" else "S1", gender="M", birth_date=date(1980, 5, 5)))
        service.ensure_default_rules(s)
        run_id = scores_repo.create_run(s, as_of=date(2026, 11, 25), engine="duckdb", config_json="{}").id
    ids = list(TIERS)
    scores = pa.table({"customer_id": ids, "tier_raw": list(TIERS.values()), "tier": list(TIERS.values())})
    with any_engine.begin() as conn:
        scores_repo.insert_scores(conn, run_id, scores)
    with session_scope(factory) as s:
        scores_repo.publish_run(s, run_id, timings_json="{}", summary_json="{}")
    return factory


def _plan_hits(plan_ids: list[str]) -> pa.Table:
    rows = []
    for cid, tier in TIERS.items():
        row = {
            "customer_id": cid,
            "branch_id": "B1",
            "rm_id": "S2" if cid == "C4" else "S1",
            "tier": tier,
            "marketing_consent": True,
        }
        for plan in plan_ids:
            wanted = {
                "cadence_vip_review": "vip",
                "cadence_potential_survey": "potential",
                "cadence_ordinary_service": "ordinary",
            }[plan]
            row[f"hit__{plan}"] = tier == wanted
        rows.append(row)
    return pa.Table.from_pylist(rows)


def _plans(factory, *ids: str) -> list[Rule]:
    with session_scope(factory) as s:
        stored = {r.rule_id: r for r in service.list_rules(s)}
        return [Rule(**{c.key: getattr(stored[i], c.key) for c in Rule.__table__.columns}) for i in ids]


def _contact(factory, cid: str, purpose: str, at: datetime) -> None:
    with session_scope(factory) as s:
        s.add(Interaction(customer_id=cid, staff_id="S1", channel="visit", purpose=purpose, occurred_at=at))


def test_a_plan_raises_a_contact_task_only_when_the_period_runs_out(any_engine: Engine, bank) -> None:
    # C1 had an asset review 10 days ago: not due; C2 one 28 days ago: due within the 3-day lead
    _contact(bank, "C1", "review", NOW - timedelta(days=10))
    _contact(bank, "C2", "review", NOW - timedelta(days=28))
    _contact(bank, "C3", "review", NOW - timedelta(days=1))  # a review is not the potential tier's survey
    plans = ["cadence_vip_review", "cadence_potential_survey", "cadence_ordinary_service"]
    with any_engine.begin() as conn:
        result = service.record_run_items(conn, 1, _plan_hits(plans), _plans(bank, *plans), {}, now=NOW)
    assert result.created == {"task": 2, "message": 1}
    with session_scope(bank) as s:
        items = {(t.customer_id, t.rule_id): t for t in s.scalars(select(Task))}
    assert set(items) == {
        ("C2", "cadence_vip_review"),
        ("C3", "cadence_potential_survey"),
        ("C4", "cadence_ordinary_service"),
    }
    # due when the period ends for a contacted customer, after the SLA for one never contacted
    assert items[("C2", "cadence_vip_review")].due_at == NOW + timedelta(days=2)
    assert items[("C3", "cadence_potential_survey")].due_at == NOW + timedelta(hours=120)
    assert (items[("C4", "cadence_ordinary_service")].kind, items[("C4", "cadence_ordinary_service")].channel) == (
        "message",
        "sms",
    )


def test_a_done_plan_task_counts_as_the_contact(any_engine: Engine, bank) -> None:
    plans = ["cadence_vip_review"]
    with any_engine.begin() as conn:
        service.record_run_items(conn, 1, _plan_hits(plans), _plans(bank, *plans), {}, now=NOW)
    with session_scope(bank) as s:
        for item in s.scalars(select(Task)):
            service.close_item(s, item, status="done", by="S1", outcome="visited", now=NOW)
    with any_engine.begin() as conn:
        later = service.record_run_items(
            conn, 2, _plan_hits(plans), _plans(bank, *plans), {}, now=NOW + timedelta(days=26)
        )
        assert later.created == {}
        again = service.record_run_items(
            conn, 3, _plan_hits(plans), _plans(bank, *plans), {}, now=NOW + timedelta(days=27, hours=1)
        )
        assert again.created == {"task": 2}


def test_plan_items_stay_out_of_the_rules_export_unless_asked(any_engine: Engine, bank) -> None:
    plans = ["cadence_vip_review"]
    with any_engine.begin() as conn:
        service.record_run_items(conn, 1, _plan_hits(plans), _plans(bank, *plans), {}, now=NOW)
    with session_scope(bank) as s:
        assert service.export_rows(s, 1) == []
        assert {r["rule_id"] for r in service.export_rows(s, 1, include_cadence=True)} == {"cadence_vip_review"}


def test_coverage_per_rm_team_and_branch(any_engine: Engine, bank) -> None:
    now = datetime.now(UTC)
    _contact(bank, "C1", "review", now - timedelta(days=3))  # VIP covered
    _contact(bank, "C2", "review", now - timedelta(days=45))  # VIP overdue
    # potential C3 needs both the fortnightly content and the monthly survey
    _contact(bank, "C3", "survey", now - timedelta(days=5))
    _contact(bank, "C3", "marketing", now - timedelta(days=20))
    # ordinary C4 (RM S2): service reminder 10 days ago, questionnaire 60 days ago (within 91)
    _contact(bank, "C4", "service", now - timedelta(days=10))
    _contact(bank, "C4", "survey", now - timedelta(days=60))
    with session_scope(bank) as s:
        by_rm = {r.key: r.to_dict() for r in cadence_report(s, by="rm", now=now).rows}
        by_team = [r.to_dict() for r in cadence_report(s, by="team", now=now).rows]
        report = cadence_report(s, by="branch", now=now)
    assert (by_rm["S1"]["customers"], by_rm["S1"]["covered"]) == (3, 1)
    assert by_rm["S1"]["by_tier"]["vip"] == {"customers": 2, "covered": 1, "coverage": 0.5}
    assert (by_rm["S2"]["customers"], by_rm["S2"]["covered"], by_rm["S2"]["coverage"]) == (1, 1, 1.0)
    assert [(r["key"], r["customers"], r["covered"]) for r in by_team] == [("T1", 4, 2)]
    overdue = {(o.customer_id, o.plan) for o in report.overdue}
    assert overdue == {("C2", "cadence_vip_review"), ("C3", "cadence_potential_content")}


def test_an_rm_sees_only_their_own_coverage(any_engine: Engine, bank) -> None:
    rm = Principal(1, "s2", "rm", "S2", "T1", "B1", ROLE_PERMISSIONS["rm"])
    with session_scope(bank) as s:
        rows = cadence_report(s, principal=rm).rows
        assert [(r.key, r.customers) for r in rows] == [("S2", 1)]
    marketing = Principal(2, "mk", "marketing", None, None, None, ROLE_PERMISSIONS["marketing"])
    with session_scope(bank) as s, pytest.raises(PermissionDenied):
        cadence_report(s, principal=marketing)
