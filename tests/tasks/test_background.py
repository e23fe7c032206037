"""The web process's background loops: escalation between nightly runs, and a clean stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from bankcrm.cli.serve import maintenance_loop
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.staff.models import Branch, Staff, Team
from bankcrm.tasks import service
from bankcrm.tasks.models import Task
from factories import customer


def test_the_maintenance_loop_escalates_an_overdue_outflow_check_and_stops(any_engine: Engine) -> None:
    factory = session_factory(any_engine)
    past = datetime.now(UTC) - timedelta(hours=30)
    with session_scope(factory) as s:
        s.add(Branch(branch_id="B1", name="b"))
        s.flush()
        s.add(Team(team_id="T1", name="t", branch_id="B1", lead_staff_id="L1"))
        s.flush()
        s.add_all(
            [
                Staff(staff_id="S1", name="s", role="rm", branch_id="B1", team_id="T1"),
                Staff(staff_id="L1", name="l", role="team_lead", branch_id="B1", team_id="T1"),
            ]
        )
        s.flush()
        s.add(customer("C1", "S1"))
        service.ensure_default_rules(s)
        s.add(
            Task(
                customer_id="C1",
                rule_id="large_outflow",
                kind="task",
                priority="urgent",
                created_at=past,
                due_at=past + timedelta(hours=24),
                assigned_to="S1",
                open_key="C1|large_outflow",
            )
        )
    stop = threading.Event()
    thread = threading.Thread(target=maintenance_loop, args=(any_engine, stop, 0.05), daemon=True)
    thread.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        escalated_to = None
        while escalated_to is None and datetime.now(UTC) < deadline:
            with session_scope(factory) as s:
                escalated_to = s.scalar(select(Task.escalated_to))
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert escalated_to == "L1"
    assert not thread.is_alive()
