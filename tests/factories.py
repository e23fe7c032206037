"""Small builders for rows many tests need (not fixtures: each test says what it builds)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bankcrm.customers.models import Customer


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
