"""JSON shapes of the security API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MeRead(BaseModel):
    username: str
    display_name: str
    role: str
    staff_id: str | None
    team_id: str | None
    branch_id: str | None
    permissions: list[str] = Field(description="what this login may do (narrowed to the token's scopes for a token)")
    customer_scope: str = Field(description="own, team, branch, all_masked or none")
    via_api_token: bool
