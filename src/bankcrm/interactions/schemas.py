"""What an RM enters when logging a contact, validated before the service sees it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

# the channels a person logs by hand; the maintenance engine may add app and branch_event contacts
CHANNELS = ("visit", "call", "wecom", "sms", "email")
# care, review, service, marketing, survey, task (the cadence counts care, review and marketing)
PURPOSES = ("care", "review", "service", "marketing", "survey", "task")
# dates outside these bounds are typing errors (and would not survive the conversion to UTC)
EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 12, 31)


class InteractionCreate(BaseModel):
    """One contact: channel, purpose, when it happened, notes and the agreed next step."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    channel: str = Field(description=f"one of {', '.join(CHANNELS)}")
    purpose: str = Field(description=f"one of {', '.join(PURPOSES)}")
    occurred_at: datetime | None = Field(default=None, description="when the contact happened; now when omitted")
    notes: str | None = Field(default=None, max_length=4000)
    next_step: str | None = Field(default=None, max_length=400)
    next_step_on: date | None = None
    task_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="the task this contact worked, if any")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
        return value

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        if value not in PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a time-zone offset, e.g. 2026-03-01T09:30:00+08:00")
        if not EARLIEST.year <= value.year <= LATEST.year:
            raise ValueError(f"occurred_at must lie between {EARLIEST.year} and {LATEST.year}")
        return value

    @field_validator("next_step_on")
    @classmethod
    def _sensible_day(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"next_step_on must lie between {EARLIEST.year} and {LATEST.year}")
        return value

    @field_validator("notes", "next_step")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class InteractionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    staff_id: str | None
    channel: str
    purpose: str
    occurred_at: datetime
    notes: str | None
    next_step: str | None
    next_step_on: date | None
    task_id: int | None
    created_at: datetime


class InteractionPage(BaseModel):
    items: list[InteractionRead]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; null at the end")
