"""Work items from a run's hits: one open item per (customer, rule), cooldown, SLA, escalation, export."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from bankcrm.audit.service import Actor, search
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security.permissions import ROLE_PERMISSIONS, PermissionDenied, Principal
from bankcrm.staff.models import Branch, Staff, Team
from bankcrm.tasks import service
from bankcrm.tasks.models import Rule, Task, TaskEvent
from factories import customer

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Shanghai


@pytest.fixture
def bank(any_engine: Engine):
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        s.add(Branch(branch_id="B1", name="b"))
        s.flush()
        s.add(Team(team_id="T1", name="t", branch_id="B1", lead_staff_id="L1"))
        s.flush()
        s.add_all(
            [
                Staff(staff_id="S1", name="s1", role="rm", branch_id="B1", team_id="T1"),
                Staff(staff_id="L1", name="l1", role="team_lead", branch_id="B1", team_id="T1"),
            ]
        )
        s.flush()
        for cid, rm in (("C1", "S1"), ("C2", None), ("C3", "S1")):
            s.add(customer(cid, rm))
        service.ensure_default_rules(s)
    return factory


def _rules(factory, *ids: str) -> list[Rule]:
    with session_scope(factory) as s:
        stored = {r.rule_id: r for r in service.list_rules(s)}
        return [Rule(**{c.key: getattr(stored[i], c.key) for c in Rule.__table__.columns}) for i in ids]


def _hits(rows: list[dict]) -> pa.Table:
    columns = {"customer_id", "branch_id", "rm_id", "tier", "marketing_consent"}
    for row in rows:
        columns |= set(row)
    return pa.Table.from_pylist([{c: row.get(c) for c in sorted(columns)} for row in rows])


def _record(engine: Engine, factory, run_id: int, rows: list[dict], rule_ids: tuple[str, ...], now=NOW):
    rules = _rules(factory, *rule_ids)
    with engine.begin() as conn:
        return service.record_run_items(conn, run_id, _hits(rows), rules, {}, now=now)


def _row(cid: str, rm: str | None, tier: str = "ordinary", **hits: bool) -> dict:
    return {
        "customer_id": cid,
        "branch_id": "B1",
        "rm_id": rm,
        "tier": tier,
        "marketing_consent": True,
        **{f"hit__{k}": v for k, v in hits.items()},
    }


def test_one_open_item_per_customer_and_rule_across_two_runs(any_engine: Engine, bank) -> None:
    first = _record(any_engine, bank, 1, [_row("C1", "S1", overdue=True), _row("C2", None, overdue=True)], ("overdue",))
    second = _record(
        any_engine, bank, 2, [_row("C1", "S1", overdue=True), _row("C3", "S1", overdue=True)], ("overdue",)
    )
    assert (first.created, first.reconfirmed) == ({"task": 2}, 0)
    assert (second.created, second.reconfirmed) == ({"task": 1}, 1)
    with session_scope(bank) as s:
        items = s.scalars(select(Task).order_by(Task.task_id)).all()
        assert [(t.customer_id, t.run_id) for t in items] == [("C1", 1), ("C2", 1), ("C3", 2)]
        # the second run's list holds the re-confirmed C1 item and the new C3 item
        assert [r["customer_id"] for r in service.export_rows(s, 2)] == ["C1", "C3"]
        assert [r["customer_id"] for r in service.export_rows(s, 1)] == ["C1", "C2"]


def test_unassigned_customer_goes_to_the_branch_queue(any_engine: Engine, bank) -> None:
    _record(any_engine, bank, 1, [_row("C2", None, overdue=True)], ("overdue",))
    with session_scope(bank) as s:
        (item,) = s.scalars(select(Task)).all()
        assert (item.assigned_to, item.queue_branch_id) == (None, "B1")
        assert service.export_rows(s, 1)[0]["assigned_to"] == "branch:B1"


def test_closed_item_frees_the_slot_after_the_cooldown(any_engine: Engine, bank) -> None:
    _record(any_engine, bank, 1, [_row("C1", "S1", overdue=True)], ("overdue",))  # overdue: cooldown 7 days
    with session_scope(bank) as s:
        item = s.scalars(select(Task)).one()
        service.close_item(s, item, status="done", by="S1", outcome="called", now=NOW)
    again = _record(any_engine, bank, 2, [_row("C1", "S1", overdue=True)], ("overdue",), now=NOW + timedelta(days=1))
    assert (again.created, again.cooling_down) == ({}, 1)
    later = _record(any_engine, bank, 3, [_row("C1", "S1", overdue=True)], ("overdue",), now=NOW + timedelta(days=8))
    assert later.created == {"task": 1}


def test_tier_decides_the_birthday_action(any_engine: Engine, bank) -> None:
    rows = [_row("C1", "S1", "vip", birthday=True), _row("C3", "S1", "ordinary", birthday=True)]
    _record(any_engine, bank, 1, rows, ("birthday",))
    with session_scope(bank) as s:
        got = {(t.customer_id, t.kind, t.channel) for t in s.scalars(select(Task))}
    assert got == {("C1", "task", "call"), ("C3", "message", "sms")}


def test_sla_in_hours_and_in_working_days(any_engine: Engine, bank) -> None:
    # large_outflow: 24 hours; need_mortgage: 3 working days from Thursday → Tuesday
    rows = [
        _row("C1", "S1", large_outflow=True, need_mortgage=False),
        _row("C3", "S1", need_mortgage=True, large_outflow=False),
    ]
    _record(any_engine, bank, 1, rows, ("large_outflow", "need_mortgage"))
    with session_scope(bank) as s:
        due = {t.rule_id: (t.priority, t.due_at) for t in s.scalars(select(Task))}
    assert due["large_outflow"] == ("urgent", NOW + timedelta(hours=24))
    assert due["need_mortgage"] == ("normal", NOW + timedelta(days=5))


def test_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday 16:00 Shanghai
    assert service.add_working_days(friday, 1) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    # Friday 17:00 UTC is already Saturday 01:00 in Shanghai: the next working day is Monday there
    saturday_shanghai = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    assert service.add_working_days(saturday_shanghai, 1) == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


def test_large_outflow_not_done_in_24_hours_escalates_to_the_team_lead(any_engine: Engine, bank) -> None:
    _record(
        any_engine,
        bank,
        1,
        [_row("C1", "S1", large_outflow=True), _row("C2", None, large_outflow=True)],
        ("large_outflow",),
    )
    with session_scope(bank) as s:
        assert service.escalate_overdue(s, now=NOW + timedelta(hours=23, minutes=59)) == []
    with session_scope(bank) as s:
        escalated = service.escalate_overdue(s, now=NOW + timedelta(hours=24, seconds=1))
        assert len(escalated) == 2
    with session_scope(bank) as s:
        items = {t.customer_id: t for t in s.scalars(select(Task))}
        assert items["C1"].escalated_to == "L1"
        assert items["C2"].escalated_to is None or items["C2"].escalated_to == "L1"
        assert s.scalars(select(TaskEvent.action)).all() == ["escalate", "escalate"]
        assert search(s, action="task.escalate")
        # escalation happens once
        assert service.escalate_overdue(s, now=NOW + timedelta(days=3)) == []


def test_a_done_item_is_not_escalated(any_engine: Engine, bank) -> None:
    _record(any_engine, bank, 1, [_row("C1", "S1", large_outflow=True)], ("large_outflow",))
    with session_scope(bank) as s:
        service.close_item(s, s.scalars(select(Task)).one(), status="done", by="S1", outcome="authorised", now=NOW)
    with session_scope(bank) as s:
        assert service.escalate_overdue(s, now=NOW + timedelta(days=2)) == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_has_exactly_the_section_columns(any_engine: Engine, bank, tmp_path: Path, suffix: str) -> None:
    _record(any_engine, bank, 7, [_row("C1", "S1", large_outflow=True)], ("large_outflow",))
    out = tmp_path / f"tasks{suffix}"
    with session_scope(bank) as s:
        service.write_export(service.export_rows(s, 7), out)
    if suffix == ".csv":
        with out.open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        header = list(rows[0])
    else:
        table = pq.read_table(out)
        header, rows = table.column_names, table.to_pylist()
    assert header == list(service.EXPORT_COLUMNS)
    (row,) = rows
    assert (row["customer_id"], row["rule_id"], row["kind"], row["priority"], row["assigned_to"], row["status"]) == (
        "C1",
        "large_outflow",
        "task",
        "urgent",
        "S1",
        "open",
    )
    assert row["created_at"] == "2026-11-26T10:00:00+08:00"
    assert row["due_at"] == "2026-11-27T10:00:00+08:00"


# --- rules as data ---


def test_bad_condition_is_refused_with_where(any_engine: Engine, bank) -> None:
    with session_scope(bank) as s, pytest.raises(service.RuleError) as err:
        service.update_rule(
            s, "need_mortgage", {"condition": "mortgage_rate_views_30d >= 3 AND depositt > 1"}, actor=Actor.cli()
        )
    assert "unknown column 'depositt'" in str(err.value)
    assert "line 1, column 34" in str(err.value)
    with session_scope(bank) as s:
        assert service.get_rule(s, "need_mortgage").version == 1  # nothing saved


def test_edit_bumps_the_version_keeps_history_and_audits(any_engine: Engine, bank) -> None:
    with session_scope(bank) as s:
        service.update_rule(s, "need_mortgage", {"condition": "mortgage_rate_views_30d >= 4"}, actor=Actor("analyst"))
        service.set_enabled(s, "need_mortgage", False, actor=Actor("analyst"))
    with session_scope(bank) as s:
        history = service.rule_history(s, "need_mortgage")
        assert [(h["version"], h["change"]) for h in history] == [(1, "create"), (2, "update"), (3, "disable")]
        assert history[1]["rule"]["condition"] == "mortgage_rate_views_30d >= 4"
        changes = [json.loads(e.details_json) for e in search(s, action="config.change")]
        assert {
            "before": {"condition": "mortgage_rate_views_30d >= 3 AND deposit_balance >= 200000", "version": 1},
            "after": {"condition": "mortgage_rate_views_30d >= 4", "version": 2},
        } in changes


def test_new_rule_starts_disabled_and_needs_the_permission(any_engine: Engine, bank) -> None:
    data = {
        "rule_id": "big_saver",
        "name_zh": "大额存款",
        "name_en": "Big saver",
        "condition": "deposit_balance >= 1000000 AND tier <> 'vip'",
        "action": "opportunity",
        "priority": "normal",
        "sla_hours": 72,
        "template_zh": "请联系客户",
        "template_en": "Contact the customer",
    }
    rm = Principal(1, "rm", "rm", "S1", None, "B1", ROLE_PERMISSIONS["rm"])
    with session_scope(bank) as s, pytest.raises(PermissionDenied):
        service.create_rule(s, data, actor=Actor("rm"), principal=rm)
    marketing = Principal(2, "mk", "marketing", None, None, None, ROLE_PERMISSIONS["marketing"])
    with session_scope(bank) as s:
        rule = service.create_rule(s, data, actor=Actor("mk"), principal=marketing)
        assert (rule.enabled, rule.category, rule.version) == (False, "custom", 1)
    with session_scope(bank) as s, pytest.raises(service.RuleError, match="exists already"):
        service.create_rule(s, data, actor=Actor("mk"), principal=marketing)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"priority": "asap"}, "priority"),
        ({"sla_hours": 0}, "sla_hours"),
        ({"product_category": "yacht"}, "product_category"),
        ({"tier_actions": {"gold": {"kind": "task"}}}, "unknown tier"),
        ({"condition": "tier = 'vip'; DROP TABLE tasks"}, "one expression"),
        ({"colour": "red"}, "unknown rule fields"),
    ],
)
def test_each_bad_field_is_named(any_engine: Engine, bank, changes: dict, message: str) -> None:
    with session_scope(bank) as s, pytest.raises(service.RuleError, match=message):
        service.update_rule(s, "birthday", changes, actor=Actor.cli())


def test_every_default_rule_is_seeded_once(any_engine: Engine, bank) -> None:
    with session_scope(bank) as s:
        assert service.ensure_default_rules(s) == 0
        ids = {r.rule_id for r in service.list_rules(s)}
    assert ids == {
        "birthday",
        "festival",
        "maturity",
        "repayment_due",
        "overdue",
        "large_outflow",
        "risky_concentration",
        "assessment_expiry",
        "nav_move",
        "attrition_risk",
        "dormancy",
        "need_mortgage",
        "need_education",
        "need_salary_plan",
        "need_reinvest",
        "need_retirement",
        "need_private_corporate",
        "cadence_vip_review",
        "cadence_potential_content",
        "cadence_potential_survey",
        "cadence_ordinary_service",
        "cadence_ordinary_questionnaire",
    }


def test_items_go_to_the_rm_the_customer_has_now_not_the_one_in_the_lake(any_engine: Engine, bank) -> None:
    # the lake's snapshot still names the RM of the last extract; bankcrm reassigned since
    stale = [_row("C1", None, overdue=True), _row("C2", "S1", overdue=True)]
    _record(any_engine, bank, 1, stale, ("overdue",))
    with session_scope(bank) as s:
        got = {t.customer_id: (t.assigned_to, t.queue_branch_id) for t in s.scalars(select(Task))}
    assert got == {"C1": ("S1", None), "C2": (None, "B1")}
