"""Queries over published scores for one customer."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankcrm.scores.models import CustomerScore, NightlyRun, TierHistory


def score_of(session: Session, run_id: int, customer_id: str) -> CustomerScore | None:
    return session.get(CustomerScore, (run_id, customer_id))


def tier_history_of(session: Session, customer_id: str, *, limit: int) -> list[tuple[int, date, str, str]]:
    """(run_id, as_of, tier_raw, tier) of the customer's published runs, newest first."""
    stmt = (
        select(TierHistory.run_id, TierHistory.as_of, TierHistory.tier_raw, TierHistory.tier)
        .join(NightlyRun, NightlyRun.id == TierHistory.run_id)
        .where(TierHistory.customer_id == customer_id, NightlyRun.status == "published")
        .order_by(TierHistory.run_id.desc())
        .limit(limit)
    )
    return [(r, a, raw, t) for r, a, raw, t in session.execute(stmt).all()]
