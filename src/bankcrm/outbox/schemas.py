"""What the web app and the API show of the outbox and of consent (no clear contact data)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeliveryAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt_no: int
    worker: str
    recipient_masked: str | None
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    gateway_message_id: str | None
    error: str | None


class OutboxMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    task_id: int | None
    rule_id: str | None
    channel: str
    message_class: str
    marketing: bool
    language: str
    subject: str | None
    body: str
    status: str
    status_reason: str | None
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class ConsentEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    consent: bool
    channel: str
    recorded_at: datetime
    recorded_by: str | None
    note: str | None


class ConsentRead(BaseModel):
    """A customer's marketing consent now, with its history (oldest first)."""

    customer_id: str
    marketing_consent: bool
    history: list[ConsentEventRead]
