"""All SQL of working the items: the record scope of a task list, its order and counts, snoozes and reassignment.

The engine's own queries (rules, run hits, escalation) are in ``repository.py``; these are the
ones the task list, the item page and the JSON API need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from bankcrm.security.permissions import ROLE_CUSTOMER_SCOPE, CustomerScope, Permission, Principal
from bankcrm.staff.models import Staff, Team
from bankcrm.tasks.models import OPEN_STATUSES, Rule, Task, TaskEvent


def task_scope_filter(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``Task`` selecting the items the principal works.

    An RM: items assigned to them. A team lead: items of the team's RMs and the branch queue. A
    branch manager: items of the branch's staff and the branch queue. Anyone: items escalated to
    them. Read by role, not by ``customer.read``, so an API token lent only ``tasks:read`` keeps
    its user's scope.
    """
    if Permission.TASK_WORK not in principal.permissions:
        return false()
    scope = ROLE_CUSTOMER_SCOPE.get(principal.role, CustomerScope.NONE)
    clauses: list[ColumnElement[bool]] = []
    if principal.staff_id:
        clauses += [Task.assigned_to == principal.staff_id, Task.escalated_to == principal.staff_id]
    queue = (
        and_(Task.assigned_to.is_(None), Task.queue_branch_id == principal.branch_id) if principal.branch_id else None
    )
    if scope is CustomerScope.TEAM and principal.team_id:
        clauses.append(Task.assigned_to.in_(select(Staff.staff_id).where(Staff.team_id == principal.team_id)))
        if queue is not None:
            clauses.append(queue)
    elif scope is CustomerScope.BRANCH and principal.branch_id:
        clauses.append(Task.assigned_to.in_(select(Staff.staff_id).where(Staff.branch_id == principal.branch_id)))
        if queue is not None:
            clauses.append(queue)
    return or_(*clauses) if clauses else false()


@dataclass(frozen=True)
class ItemFilter:
    """What a task list asks for; ``statuses`` and ``kinds`` are already checked by the service."""

    statuses: tuple[str, ...]
    kinds: tuple[str, ...]
    rule_id: str | None = None
    queue_branch_id: str | None = None  # only the unassigned items of this branch's queue


def _where(principal: Principal, flt: ItemFilter) -> list[ColumnElement[bool]]:
    where = [task_scope_filter(principal), Task.status.in_(flt.statuses), Task.kind.in_(flt.kinds)]
    if flt.rule_id:
        where.append(Task.rule_id == flt.rule_id)
    if flt.queue_branch_id:
        where += [Task.assigned_to.is_(None), Task.queue_branch_id == flt.queue_branch_id]
    return where


def list_items(
    session: Session,
    principal: Principal,
    flt: ItemFilter,
    *,
    now: datetime,
    end_of_today: datetime,
    offset: int,
    limit: int,
) -> tuple[Sequence[Task], int]:
    """A page of items in scope: urgent first, then overdue, then due today, then the rest, each by due time.

    Closed items (done, cancelled, expired) are listed newest first instead.
    """
    where = _where(principal, flt)
    total = session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
    stmt = select(Task).where(*where)
    if set(flt.statuses) <= set(OPEN_STATUSES):
        bucket = case(
            (Task.priority == "urgent", 0),
            (Task.due_at < now, 1),
            (Task.due_at < end_of_today, 2),
            else_=3,
        )
        stmt = stmt.order_by(bucket, Task.due_at, Task.task_id)
    else:
        stmt = stmt.order_by(Task.closed_at.desc(), Task.task_id.desc())
    return session.scalars(stmt.offset(offset).limit(limit)).all(), int(total)


def count_open(
    session: Session, principal: Principal, kinds: Sequence[str], *, now: datetime, end_of_today: datetime
) -> dict[str, int]:
    """Open items in scope: all, urgent, overdue and due later today (snoozed ones are not counted)."""
    row = session.execute(
        select(
            func.count(),
            func.count(case((Task.priority == "urgent", 1))),
            func.count(case((Task.due_at < now, 1))),
            func.count(case((and_(Task.due_at >= now, Task.due_at < end_of_today), 1))),
        ).where(task_scope_filter(principal), Task.status == "open", Task.kind.in_(kinds))
    ).one()
    return {"open": row[0], "urgent": row[1], "overdue": row[2], "due_today": row[3]}


def get_item_in_scope(session: Session, principal: Principal, task_id: int, *, for_update: bool = False) -> Task | None:
    """The item when it exists and the principal works it; None for missing and hidden alike."""
    stmt = select(Task).where(Task.task_id == task_id, task_scope_filter(principal))
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def item_events(session: Session, task_id: int) -> Sequence[TaskEvent]:
    return session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)).all()


def snoozed_due(session: Session, now: datetime) -> Sequence[Task]:
    """Snoozed items whose time has come (rows another transaction is waking are skipped)."""
    return session.scalars(
        select(Task)
        .where(Task.status == "snoozed", Task.snoozed_until <= now)
        .order_by(Task.task_id)
        .with_for_update(skip_locked=True)
    ).all()


def rule_names(session: Session, rule_ids: Iterable[str | None]) -> dict[str, tuple[str, str]]:
    """rule_id → (Chinese name, English name)."""
    wanted = {r for r in rule_ids if r}
    if not wanted:
        return {}
    rows = session.execute(select(Rule.rule_id, Rule.name_zh, Rule.name_en).where(Rule.rule_id.in_(wanted)))
    return {rule_id: (zh, en) for rule_id, zh, en in rows}


def get_staff(session: Session, staff_id: str) -> Staff | None:
    return session.get(Staff, staff_id)


def staff_of(session: Session, *, team_id: str | None = None, branch_id: str | None = None) -> Sequence[Staff]:
    """Active RMs and team leads of a team or a branch, by staff id (who an item may go to)."""
    stmt = select(Staff).where(Staff.active.is_(True), Staff.role.in_(("rm", "team_lead")))
    if team_id is not None:
        stmt = stmt.where(Staff.team_id == team_id)
    elif branch_id is not None:
        stmt = stmt.where(Staff.branch_id == branch_id)
    else:
        return []
    return session.scalars(stmt.order_by(Staff.staff_id)).all()


def team_branch(session: Session, team_id: str) -> str | None:
    return session.scalar(select(Team.branch_id).where(Team.team_id == team_id))
