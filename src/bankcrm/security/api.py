"""Who am I: the caller's login, role, permissions and customer scope."""

from __future__ import annotations

from fastapi import APIRouter

from bankcrm.security.schemas import MeRead
from bankcrm.web.deps import CurrentAuth

router = APIRouter(tags=["me"])


@router.get("/me", response_model=MeRead)
def me(auth: CurrentAuth) -> MeRead:
    user, principal = auth.user, auth.principal
    return MeRead(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        staff_id=user.staff_id,
        team_id=user.team_id,
        branch_id=user.branch_id,
        permissions=sorted(str(p) for p in principal.permissions),
        customer_scope=str(principal.customer_scope),
        via_api_token=auth.via_api_token,
    )
