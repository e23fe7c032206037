"""JSON shapes of the audit API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from bankcrm.audit.models import AuditEvent


class AuditEventRead(BaseModel):
    seq: int
    occurred_at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    client_address: str | None
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventRead:
        return cls(
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor=event.actor,
            actor_user_id=event.actor_user_id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            details=json.loads(event.details_json or "{}"),
            client_address=event.client_address,
            hash=event.hash,
        )


class AuditEventPage(BaseModel):
    items: list[AuditEventRead]
    page: int
    page_size: int
