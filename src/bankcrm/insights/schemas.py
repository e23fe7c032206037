"""JSON shape of the scores part of the 360 view."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from bankcrm.insights.service import ValueView


class TierPointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: int
    as_of: date
    tier_raw: str
    tier: str


class SegmentCentreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    segment: str
    customers: int
    current_value: float
    potential_value: float


class QuadrantRead(BaseModel):
    current_value: float
    potential_value: float
    segment: str | None
    quadrant: str = Field(description="high_high, high_low, low_high or low_low (current value first)")
    split: float
    centres: list[SegmentCentreRead]


class ValueRead(BaseModel):
    run_id: int | None
    as_of: date | None
    tier: str | None
    tier_raw: str | None
    segment: str | None
    value_class: str | None
    value_index: float | None
    current_value: float | None
    potential_value: float | None
    tier_history: list[TierPointRead]
    quadrant: QuadrantRead | None

    @classmethod
    def of(cls, v: ValueView) -> ValueRead:
        s = v.score
        q = v.quadrant
        return cls(
            run_id=v.run_id,
            as_of=v.as_of,
            tier=s.tier if s else None,
            tier_raw=s.tier_raw if s else None,
            segment=s.segment if s else None,
            value_class=s.value_class if s else None,
            value_index=s.value_index if s else None,
            current_value=s.current_value if s else None,
            potential_value=s.potential_value if s else None,
            tier_history=[TierPointRead.model_validate(t) for t in v.tier_history],
            quadrant=None
            if q is None
            else QuadrantRead(
                current_value=q.current_value,
                potential_value=q.potential_value,
                segment=q.segment,
                quadrant=q.name,
                split=q.split,
                centres=[SegmentCentreRead.model_validate(c) for c in q.centres],
            ),
        )
