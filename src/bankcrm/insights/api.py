"""Latest scores, tier history and the value quadrant of one customer as JSON."""

from __future__ import annotations

from fastapi import APIRouter

from bankcrm.insights import service
from bankcrm.insights.schemas import ValueRead
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("/{customer_id}/value", response_model=ValueRead)
def value(customer_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> ValueRead:
    """Tier, segment, current and potential value with the quadrant, and the tier history; audited."""
    return ValueRead.of(service.value_view(db, principal, customer_id, actor=actor))
