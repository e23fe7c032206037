"""Small builders for rows many tests need (not fixtures: each test says what it builds)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bankcrm.customers.models import Customer
from bankcrm.security.permissions import ROLE_PERMISSIONS, Principal


def customer(customer_id: str, rm_id: str | None, branch_id: str = "B1", **fields: Any) -> Customer:
    """A customer row with placeholder sensitive fields (for tests that never decrypt them)."""
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "name": "x",
        "gender": "F",
        "birth_date": date(1990, 1, 1),
        "id_number_enc": "e",
        "id_number_bidx": "i" + customer_id,
        "phone_enc": "e",
        "phone_bidx": "p" + customer_id,
        "onboard_date": date(2020, 1, 1),
        "branch_id": branch_id,
        "rm_id": rm_id,
        **fields,
    }
    return Customer(**values)


def principal(
    role: str, staff_id: str | None = None, team_id: str | None = None, branch_id: str | None = None
) -> Principal:
    """A principal with the role's permissions (no API-token narrowing)."""
    return Principal(1, f"{role}-user", role, staff_id, team_id, branch_id, ROLE_PERMISSIONS[role])
