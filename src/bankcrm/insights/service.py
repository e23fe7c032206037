"""The scores part of the customer 360 view: latest scores, tier history and the value quadrant.

Quadrant: current_value and potential_value are both 0–100 (percent ranks weighted as in
SPEC 4.6), so the chart splits each axis at 50. The segments' centres come from the run's
segment profile (mean current and potential value per segment), so the chart can show the
customer next to the four A/B/C/D clusters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.customers import repository as customers_repo
from bankcrm.insights import repository as repo
from bankcrm.scores import repository as scores_repo
from bankcrm.scores.models import CustomerScore
from bankcrm.security.permissions import NotFound, Permission, Principal, require

QUADRANT_SPLIT = 50.0
TIER_HISTORY_RUNS = 12


@dataclass(frozen=True)
class TierPoint:
    run_id: int
    as_of: date
    tier_raw: str
    tier: str


@dataclass(frozen=True)
class SegmentCentre:
    segment: str
    customers: int
    current_value: float
    potential_value: float


@dataclass(frozen=True)
class Quadrant:
    """Where the customer sits: high/low current value × high/low potential value."""

    current_value: float
    potential_value: float
    segment: str | None
    current_high: bool
    potential_high: bool
    split: float
    centres: list[SegmentCentre]

    @property
    def name(self) -> str:
        """``high_high``, ``high_low`` … (current first), for a label key."""
        return f"{'high' if self.current_high else 'low'}_{'high' if self.potential_high else 'low'}"


@dataclass(frozen=True)
class ValueView:
    run_id: int | None
    as_of: date | None
    score: CustomerScore | None
    tier_history: list[TierPoint]
    quadrant: Quadrant | None


def _centres(summary_json: str | None) -> list[SegmentCentre]:
    if not summary_json:
        return []
    profile = json.loads(summary_json).get("segment_profile") or []
    centres = []
    for p in profile:
        if p.get("segment") is None or p.get("mean_current_value") is None or p.get("mean_potential_value") is None:
            continue
        centres.append(
            SegmentCentre(
                p["segment"], int(p.get("customers") or 0), p["mean_current_value"], p["mean_potential_value"]
            )
        )
    return centres


def value_view_of(session: Session, customer_id: str) -> ValueView:
    """Scores of the current run, tier history and the quadrant (unchecked: callers check scope and audit)."""
    history = [TierPoint(*row) for row in repo.tier_history_of(session, customer_id, limit=TIER_HISTORY_RUNS)]
    run_id = scores_repo.current_run_id(session)
    run = scores_repo.get_run(session, run_id) if run_id is not None else None
    if run is None:
        return ValueView(None, None, None, history, None)
    score = repo.score_of(session, run.id, customer_id)
    quadrant = None
    if score is not None and score.current_value is not None and score.potential_value is not None:
        quadrant = Quadrant(
            current_value=score.current_value,
            potential_value=score.potential_value,
            segment=score.segment,
            current_high=score.current_value >= QUADRANT_SPLIT,
            potential_high=score.potential_value >= QUADRANT_SPLIT,
            split=QUADRANT_SPLIT,
            centres=_centres(run.summary_json),
        )
    return ValueView(run.id, run.as_of, score, history, quadrant)


def value_view(session: Session, principal: Principal, customer_id: str, *, actor: Actor) -> ValueView:
    """Scores, tier history and quadrant of a customer in scope; audited as a view."""
    require(principal, Permission.CUSTOMER_READ)
    if customers_repo.get_in_scope(session, principal, customer_id) is None:
        raise NotFound("customer")
    view = value_view_of(session, customer_id)
    record(
        session,
        actor,
        AuditAction.CUSTOMER_VIEW,
        target_type="customer",
        target_id=customer_id,
        details={"section": "scores", "run_id": view.run_id},
    )
    return view
