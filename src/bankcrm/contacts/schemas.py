"""A contact-detail correction as entered, and a version as shown (masked)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bankcrm.reference import OCCUPATIONS

PHONE = re.compile(r"1\d{10}")
# ASCII only: the encrypted value must fit its column
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CONTACT_FIELDS = ("phone", "address", "email", "occupation", "income_monthly")


class ContactUpdate(BaseModel):
    """The fields to change (others stay as they are; an explicit null clears one) and why."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    phone: str | None = Field(default=None, description="11-digit mainland mobile number")
    address: str | None = Field(default=None, max_length=400)
    email: str | None = Field(default=None, max_length=200)
    occupation: str | None = Field(default=None, description=f"one of {', '.join(OCCUPATIONS)}")
    income_monthly: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    reason: str = Field(min_length=4, max_length=400, description="why the details change (kept with the version)")
    expected_version: int | None = Field(
        default=None, description="the version the form was filled from; a later change makes this one fail"
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not PHONE.fullmatch(value):
            raise ValueError("phone must be 11 digits starting with 1")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value and not EMAIL.fullmatch(value):
            raise ValueError("not an e-mail address")
        return value or None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("occupation")
    @classmethod
    def _occupation(cls, value: str | None) -> str | None:
        if value is not None and value not in OCCUPATIONS:
            raise ValueError(f"occupation must be one of {', '.join(OCCUPATIONS)}")
        return value

    def changes(self) -> dict[str, object]:
        """The contact fields the caller set (explicitly, even to null)."""
        return {name: getattr(self, name) for name in CONTACT_FIELDS if name in self.model_fields_set}


class ContactVersionRead(BaseModel):
    """One version of the contact details, masked."""

    version: int
    phone: str | None
    address: str | None
    email: str | None
    occupation: str | None
    income_monthly: Decimal | None
    changed_at: datetime
    changed_by: str | None
    source: str = Field(description="extract (loaded from the bank's systems) or staff (corrected by a person)")
    reason: str | None
