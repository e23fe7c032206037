"""Queries on branches, teams and staff."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bankcrm.staff.models import Branch, Staff, Team


def list_branches(session: Session) -> list[tuple[Branch, int, int]]:
    """Every branch with its number of teams and of active staff."""
    teams = select(Team.branch_id, func.count().label("n")).group_by(Team.branch_id).subquery()
    staff = select(Staff.branch_id, func.count().label("n")).where(Staff.active.is_(True)).group_by(Staff.branch_id)
    staff_sq = staff.subquery()
    stmt = (
        select(Branch, func.coalesce(teams.c.n, 0), func.coalesce(staff_sq.c.n, 0))
        .outerjoin(teams, teams.c.branch_id == Branch.branch_id)
        .outerjoin(staff_sq, staff_sq.c.branch_id == Branch.branch_id)
        .order_by(Branch.branch_id)
    )
    return [(b, int(t), int(s)) for b, t, s in session.execute(stmt).all()]


def list_teams(session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.branch_id, Team.team_id)).all()
