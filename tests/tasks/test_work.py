"""Working the items: the morning order, record scope, complete with an interaction, snooze and wake, reassign."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import Engine, select

from bankcrm.audit.service import Actor, search
from bankcrm.customers.models import Customer, Interaction
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security.permissions import ROLE_PERMISSIONS, NotFound, PermissionDenied, Principal
from bankcrm.staff.models import Branch, Staff, Team
from bankcrm.tasks import service, work_service
from bankcrm.tasks.models import Rule, Task, TaskEvent
from bankcrm.tasks.work_service import TaskError, TaskQuery

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Shanghai; the local day ends 16:00 UTC
ACTOR = Actor.user(1, "tester")


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def principal(role: str, *, staff_id: str | None = None, team_id: str | None = None, branch_id: str | None = None):
    return Principal(
        user_id=7,
        username=f"{role}.{staff_id or team_id or branch_id}",
        role=role,
        staff_id=staff_id,
        team_id=team_id,
        branch_id=branch_id,
        permissions=ROLE_PERMISSIONS[role],
    )


RM1 = principal("rm", staff_id="S1", team_id="T1", branch_id="B1")
RM3 = principal("rm", staff_id="S3", team_id="T1", branch_id="B1")
LEAD1 = principal("team_lead", staff_id="L1", team_id="T1", branch_id="B1")
MANAGER1 = principal("branch_manager", branch_id="B1")
MARKETING = principal("marketing")


@pytest.fixture
def factory(any_engine: Engine):
    """B1: team T1 (lead L1, RMs S1 and S3) and team T2 (RM S4); B2: team T3 (RM S2). C5 has no RM (B1 queue)."""
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        s.add_all([Branch(branch_id="B1", name="b1"), Branch(branch_id="B2", name="b2")])
        s.flush()
        s.add_all(
            [
                Team(team_id="T1", name="t1", branch_id="B1", lead_staff_id="L1"),
                Team(team_id="T2", name="t2", branch_id="B1"),
                Team(team_id="T3", name="t3", branch_id="B2"),
            ]
        )
        s.flush()
        for staff_id, role, branch, team in (
            ("S1", "rm", "B1", "T1"),
            ("S3", "rm", "B1", "T1"),
            ("L1", "team_lead", "B1", "T1"),
            ("S4", "rm", "B1", "T2"),
            ("S2", "rm", "B2", "T3"),
        ):
            s.add(Staff(staff_id=staff_id, name=staff_id.lower(), role=role, branch_id=branch, team_id=team))
        s.flush()
        for cid, rm, branch in (("C1", "S1", "B1"), ("C2", "S2", "B2"), ("C3", "S1", "B1"), ("C4", "S4", "B1")):
            s.add(_customer(cid, rm, branch))
        s.add(_customer("C5", None, "B1"))
        service.ensure_default_rules(s)
    return factory


def _customer(cid: str, rm: str | None, branch: str) -> Customer:
    return Customer(
        customer_id=cid,
        name="x",
        gender="F",
        birth_date=date(1990, 1, 1),
        id_number_enc="e",
        id_number_bidx="i" + cid,
        phone_enc="e",
        phone_bidx="p" + cid,
        onboard_date=date(2020, 1, 1),
        branch_id=branch,
        rm_id=rm,
    )


def add_item(
    factory,
    customer_id: str,
    assigned_to: str | None,
    *,
    due: timedelta,
    priority: str = "normal",
    kind: str = "task",
    rule_id: str = "overdue",
    status: str = "open",
    queue: str | None = None,
) -> int:
    with session_scope(factory) as s:
        item = Task(
            customer_id=customer_id,
            rule_id=rule_id,
            rule_version=1,
            kind=kind,
            priority=priority,
            status=status,
            facts_json=json.dumps({"max_days_past_due": 12}),
            created_at=NOW - timedelta(days=3),
            due_at=NOW + due,
            assigned_to=assigned_to,
            queue_branch_id=queue,
            open_key=f"{customer_id}|{rule_id}" if status in ("open", "snoozed") else None,
        )
        s.add(item)
        s.flush()
        return item.task_id


def ids(page: work_service.TaskPage) -> list[int]:
    return [r.item.task_id for r in page.rows]


def test_the_list_is_urgent_then_overdue_then_due_today_then_the_rest(factory) -> None:
    later = add_item(factory, "C1", "S1", due=timedelta(days=1), rule_id="birthday")
    urgent = add_item(factory, "C1", "S1", due=timedelta(hours=20), priority="urgent", rule_id="large_outflow")
    overdue_1d = add_item(factory, "C1", "S1", due=-timedelta(days=1), rule_id="overdue")
    today_15h = add_item(factory, "C3", "S1", due=timedelta(hours=5), priority="high", rule_id="maturity")
    overdue_2d = add_item(factory, "C3", "S1", due=-timedelta(days=2), priority="low", rule_id="dormancy")
    today_11h = add_item(factory, "C3", "S1", due=timedelta(hours=1), rule_id="need_reinvest", kind="opportunity")
    # tomorrow 00:30 in Shanghai is not today any more
    after_midnight = add_item(factory, "C1", "S1", due=timedelta(hours=14, minutes=30), rule_id="nav_move")
    add_item(factory, "C3", "S1", due=timedelta(hours=1), kind="message", rule_id="repayment_due")  # the dispatcher's
    add_item(factory, "C1", "S1", due=-timedelta(days=5), status="done", rule_id="festival")
    with session_scope(factory) as s:
        page = work_service.list_tasks(s, RM1, TaskQuery(), clock=Clock())
        assert ids(page) == [urgent, overdue_2d, overdue_1d, today_11h, today_15h, after_midnight, later]
        assert [r.bucket for r in page.rows] == ["urgent", "overdue", "overdue", "today", "today", "later", "later"]
        assert page.counts == work_service.TaskCounts(open=7, urgent=1, overdue=2, due_today=2)
        # paging keeps the order
        second = work_service.list_tasks(s, RM1, TaskQuery(page=2, page_size=3), clock=Clock())
        assert (second.total, second.pages) == (7, 3)
        assert ids(second) == [today_11h, today_15h, after_midnight]
        # filters: kind, rule, status
        assert ids(work_service.list_tasks(s, RM1, TaskQuery(kind="opportunity"), clock=Clock())) == [today_11h]
        assert ids(work_service.list_tasks(s, RM1, TaskQuery(rule_id="maturity"), clock=Clock())) == [today_15h]
        messages = work_service.list_tasks(s, RM1, TaskQuery(kind="message"), clock=Clock())
        assert [r.item.kind for r in messages.rows] == ["message"]
        done = work_service.list_tasks(s, RM1, TaskQuery(status="done"), clock=Clock())
        assert [r.item.rule_id for r in done.rows] == ["festival"]
        assert work_service.list_tasks(s, RM1, TaskQuery(status="all"), clock=Clock()).total == 8


def test_scope_rm_team_lead_branch_manager_and_escalation(factory) -> None:
    s1 = add_item(factory, "C1", "S1", due=timedelta(days=1))
    s3 = add_item(factory, "C3", "S3", due=timedelta(days=1))
    s4 = add_item(factory, "C4", "S4", due=timedelta(days=1))
    s2 = add_item(factory, "C2", "S2", due=timedelta(days=1))
    queue_b1 = add_item(factory, "C5", None, due=timedelta(days=1), queue="B1")
    escalated = add_item(factory, "C4", "S4", due=-timedelta(hours=1), rule_id="large_outflow", priority="urgent")
    with session_scope(factory) as s:
        item = s.get(Task, escalated)
        item.escalated_at, item.escalated_to = NOW, "L1"

    def seen(who: Principal) -> set[int]:
        with session_scope(factory) as s:
            return set(ids(work_service.list_tasks(s, who, TaskQuery(page_size=100), clock=Clock())))

    assert seen(RM1) == {s1}
    assert seen(RM3) == {s3}
    assert seen(LEAD1) == {s1, s3, queue_b1, escalated}  # the team, the branch queue, and what was escalated to L1
    assert seen(MANAGER1) == {s1, s3, s4, queue_b1, escalated}
    assert s2 not in seen(MANAGER1)
    with session_scope(factory) as s:
        queue = work_service.list_tasks(s, LEAD1, TaskQuery(queue=True), clock=Clock())
        assert ids(queue) == [queue_b1]
        with pytest.raises(PermissionDenied):
            work_service.list_tasks(s, RM1, TaskQuery(queue=True), clock=Clock())
        with pytest.raises(PermissionDenied):
            work_service.list_tasks(s, MARKETING, TaskQuery(), clock=Clock())
        # another RM's item reads exactly like a missing one, and cannot be worked
        for task_id in (s2, s3, 999_999):
            with pytest.raises(NotFound):
                work_service.task_detail(s, RM1, task_id, actor=ACTOR, clock=Clock())
            with pytest.raises(NotFound):
                work_service.complete_task(
                    s, RM1, task_id, outcome="called", channel="call", actor=ACTOR, clock=Clock()
                )
            with pytest.raises(NotFound):
                work_service.snooze_task(
                    s, RM1, task_id, until=NOW + timedelta(hours=2), reason="later", actor=ACTOR, clock=Clock()
                )
        view = work_service.task_detail(s, RM1, s1, actor=ACTOR, clock=Clock())
        assert view.facts == {"max_days_past_due": 12}
        assert view.rule is not None and view.rule.rule_id == "overdue"
    with session_scope(factory) as s:  # audit events are chained when their transaction commits
        assert search(s, action="task.view", target_id=str(s1))


def _hits(customer_id: str, rm: str) -> pa.Table:
    return pa.Table.from_pylist(
        [{"customer_id": customer_id, "branch_id": "B1", "rm_id": rm, "tier": "ordinary", "hit__overdue": True}]
    )


def _overdue_rule(factory) -> Rule:
    with session_scope(factory) as s:
        stored = service.get_rule(s, "overdue")
        return Rule(**{c.key: getattr(stored, c.key) for c in Rule.__table__.columns})


def test_complete_logs_an_interaction_closes_the_slot_and_the_rule_may_raise_again_after_its_cooldown(
    any_engine: Engine, factory
) -> None:
    rule = _overdue_rule(factory)
    with any_engine.begin() as conn:
        service.record_run_items(conn, 1, _hits("C1", "S1"), [rule], {}, now=NOW)
    with session_scope(factory) as s:
        (task_id,) = s.scalars(select(Task.task_id)).all()
        for outcome, channel in (("", "call"), (" x ", "call"), ("called her", "fax")):
            with pytest.raises(TaskError):
                work_service.complete_task(
                    s, RM1, task_id, outcome=outcome, channel=channel, actor=ACTOR, clock=Clock()
                )
        item, _contact = work_service.complete_task(
            s, RM1, task_id, outcome="Called; she pays on Friday", channel="call", actor=ACTOR, clock=Clock()
        )
        assert (item.status, item.open_key, item.closed_at, item.outcome) == (
            "done",
            None,
            NOW,
            "Called; she pays on Friday",
        )
        with pytest.raises(TaskError, match="closed already"):
            work_service.complete_task(s, RM1, task_id, outcome="again", channel="call", actor=ACTOR, clock=Clock())
    with session_scope(factory) as s:
        row = s.scalars(select(Interaction)).one()
        assert (row.customer_id, row.staff_id, row.channel, row.purpose, row.notes, row.task_id) == (
            "C1",
            "S1",
            "call",
            "task",
            "Called; she pays on Friday",
            task_id,
        )
        assert [e.action for e in s.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id))] == ["done"]
        (completed,) = search(s, action="task.complete")
        details = json.loads(completed.details_json)
        assert details["interaction_id"] == row.id and "Friday" not in completed.details_json
        assert search(s, action="interaction.create", target_id="C1")
    # the slot is free, but the rule's cooldown (7 days) holds the same occurrence back ...
    with any_engine.begin() as conn:
        soon = service.record_run_items(conn, 2, _hits("C1", "S1"), [rule], {}, now=NOW + timedelta(days=1))
    assert (soon.created, soon.cooling_down) == ({}, 1)
    # ... and after it the rule raises a new item
    with any_engine.begin() as conn:
        later = service.record_run_items(conn, 3, _hits("C1", "S1"), [rule], {}, now=NOW + timedelta(days=8))
    assert later.created == {"task": 1}


def test_snooze_hides_the_item_until_its_time_then_it_wakes(factory) -> None:
    task_id = add_item(factory, "C1", "S1", due=timedelta(days=2))
    urgent = add_item(factory, "C3", "S1", due=timedelta(hours=20), priority="urgent", rule_id="large_outflow")
    clock = Clock()
    with session_scope(factory) as s:
        for until, reason, message in (
            (NOW - timedelta(minutes=1), "on leave", "future"),
            (NOW + timedelta(days=31), "on leave", "30 days"),
            (NOW + timedelta(days=1), "", "reason"),
            (None, "on leave", "future"),
        ):
            with pytest.raises(TaskError, match=message):
                work_service.snooze_task(s, RM1, task_id, until=until, reason=reason, actor=ACTOR, clock=clock)
        with pytest.raises(TaskError, match="urgent"):
            work_service.snooze_task(
                s, RM1, urgent, until=NOW + timedelta(hours=21), reason="busy", actor=ACTOR, clock=clock
            )
        work_service.snooze_task(
            s, RM1, task_id, until=NOW + timedelta(hours=3), reason="Customer travelling", actor=ACTOR, clock=clock
        )
    with session_scope(factory) as s:
        assert ids(work_service.list_tasks(s, RM1, TaskQuery(), clock=clock)) == [urgent]
        snoozed = work_service.list_tasks(s, RM1, TaskQuery(status="snoozed"), clock=clock)
        assert [(r.item.task_id, r.bucket) for r in snoozed.rows] == [(task_id, "snoozed")]
        assert work_service.task_counts(s, RM1, clock=clock).open == 1
        item = s.get(Task, task_id)
        assert item.open_key == "C1|overdue"  # a snoozed item still holds its slot: no second item meanwhile
        assert json.loads(search(s, action="task.snooze")[0].details_json)["reason"] == "Customer travelling"
    clock.now = NOW + timedelta(hours=3, seconds=1)
    with session_scope(factory) as s:
        assert ids(work_service.list_tasks(s, RM1, TaskQuery(), clock=clock)) == [urgent, task_id]
        item = s.get(Task, task_id)
        assert (item.status, item.snoozed_until) == ("open", None)
        actions = [e.action for e in s.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id))]
        assert actions == ["snooze", "wake"]
        assert work_service.wake_snoozed(s, clock=clock) == []  # woken once


def test_wake_snoozed_is_callable_without_a_reader(factory) -> None:
    task_id = add_item(factory, "C1", "S1", due=timedelta(days=2), status="snoozed")
    with session_scope(factory) as s:
        s.get(Task, task_id).snoozed_until = NOW + timedelta(hours=1)
    with session_scope(factory) as s:
        assert work_service.wake_snoozed(s, clock=Clock(NOW + timedelta(minutes=30))) == []
        assert work_service.wake_snoozed(s, clock=Clock(NOW + timedelta(hours=1))) == [task_id]


def test_reassign_within_the_team_or_the_branch_with_history(factory) -> None:
    task_id = add_item(factory, "C1", "S1", due=timedelta(days=1))
    queued = add_item(factory, "C5", None, due=timedelta(days=1), queue="B1")
    with session_scope(factory) as s:
        with pytest.raises(PermissionDenied):
            work_service.reassign_task(s, RM1, task_id, to_staff_id="S3", reason="holiday", actor=ACTOR, clock=Clock())
        assert [st.staff_id for st in work_service.reassign_candidates(s, LEAD1)] == ["L1", "S1", "S3"]
        for to, message in (("S4", "team or branch"), ("S2", "team or branch"), ("S1", "already"), ("S9", "team")):
            with pytest.raises(TaskError, match=message):
                work_service.reassign_task(
                    s, LEAD1, task_id, to_staff_id=to, reason="holiday", actor=ACTOR, clock=Clock()
                )
        with pytest.raises(TaskError, match="reason"):
            work_service.reassign_task(s, LEAD1, task_id, to_staff_id="S3", reason=" ", actor=ACTOR, clock=Clock())
        work_service.reassign_task(
            s, LEAD1, task_id, to_staff_id="S3", reason="S1 on holiday", actor=ACTOR, clock=Clock()
        )
        # out of the queue to an RM of the team
        work_service.reassign_task(
            s, LEAD1, queued, to_staff_id="S1", reason="new customer", actor=ACTOR, clock=Clock()
        )
    with session_scope(factory) as s:
        assert ids(work_service.list_tasks(s, RM3, TaskQuery(), clock=Clock())) == [task_id]
        assert ids(work_service.list_tasks(s, RM1, TaskQuery(), clock=Clock())) == [queued]
        moved = s.get(Task, queued)
        assert (moved.assigned_to, moved.queue_branch_id) == ("S1", None)
        (event,) = s.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id)).all()
        assert (event.action, json.loads(event.detail_json)) == (
            "reassign",
            {"from": "S1", "to": "S3", "reason": "S1 on holiday"},
        )
        audited = {json.loads(e.details_json)["to"] for e in search(s, action="task.reassign")}
        assert audited == {"S3", "S1"}
        # a branch manager moves items across the branch's teams, never out of the branch
        work_service.reassign_task(
            s, MANAGER1, task_id, to_staff_id="S4", reason="specialist", actor=ACTOR, clock=Clock()
        )
        with pytest.raises(TaskError):
            work_service.reassign_task(s, MANAGER1, task_id, to_staff_id="S2", reason="x y", actor=ACTOR, clock=Clock())
        assert s.get(Task, task_id).assigned_to == "S4"
        # now outside the team lead's team
        with pytest.raises(NotFound):
            work_service.reassign_task(s, LEAD1, task_id, to_staff_id="S3", reason="back", actor=ACTOR, clock=Clock())


def test_the_local_day_ends_at_midnight_in_shanghai() -> None:
    assert work_service.end_of_local_day(NOW) == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert work_service.end_of_local_day(datetime(2026, 11, 26, 16, 0, tzinfo=UTC)) == datetime(
        2026, 11, 27, 16, 0, tzinfo=UTC
    )


def test_a_team_lead_completes_a_queue_item_of_a_customer_without_an_rm(factory) -> None:
    queued = add_item(factory, "C5", None, due=timedelta(days=1), queue="B1")
    with session_scope(factory) as s:
        item, contact = work_service.complete_task(
            s, LEAD1, queued, outcome="Welcome call done", channel="call", actor=ACTOR, clock=Clock()
        )
        assert (item.status, contact.customer_id, contact.staff_id, contact.purpose) == ("done", "C5", "L1", "task")
