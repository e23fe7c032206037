"""Contact-detail corrections: versions, encryption and blind index, masked audit, scope and conflicts."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from bank360 import ACTOR, COMPLIANCE, LEAD, PHONES, RM1, RM2, Bank
from pydantic import ValidationError

from bankcrm.audit.service import search, verify
from bankcrm.contacts import service
from bankcrm.contacts.schemas import ContactUpdate
from bankcrm.customers.models import Customer
from bankcrm.db.engine import session_scope
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import NotFound, PermissionDenied


def update(bank: Bank, principal=RM1, customer: str = "C1", **fields):
    data = ContactUpdate(**{"reason": "客户本人来电更正", **fields})
    with session_scope(bank.factory) as s:
        return service.update_contact(s, principal, customer, data, actor=ACTOR, cipher=bank.cipher, masker=Masker())


def test_a_correction_is_a_new_encrypted_version_found_by_the_new_phone(bank: Bank) -> None:
    version = update(bank, phone="13899995678", email="ouyang@example.com", income_monthly="35000", expected_version=1)
    assert (version.version, version.source, version.changed_by) == (2, "staff", "S1")
    assert (version.phone, version.email, version.income_monthly) == (
        "138****5678",
        "o***@example.com",
        Decimal("35000.00"),
    )
    with session_scope(bank.factory) as s:
        customer = s.get(Customer, "C1")
        assert customer is not None
        assert bank.cipher.decrypt(customer.phone_enc, context="phone") == "13899995678"
        assert customer.phone_bidx == bank.cipher.blind_index("13899995678", field="phone")
        assert "13899995678" not in customer.phone_enc
        assert (customer.contact_version, customer.occupation) == (2, "employee")
        history = service.contact_history(s, RM1, "C1", actor=ACTOR, cipher=bank.cipher, masker=Masker())
        assert [(v.version, v.source, v.email) for v in history] == [
            (2, "staff", "o***@example.com"),
            (1, "extract", None),
        ]
    with session_scope(bank.factory) as s:
        (event,) = search(s, action="customer.contact_change")
        details = json.loads(event.details_json)
        # the two numbers differ only in the hidden digits: still recorded as a change, masked
        assert details["fields"] == ["phone", "email", "income_monthly"]
        assert details["before"]["phone"] == details["after"]["phone"] == "138****5678"
        assert (details["before"]["email"], details["after"]["email"]) == (None, "o***@example.com")
        assert "13899995678" not in event.details_json and PHONES["C1"] not in event.details_json
        assert details["reason"] == "客户本人来电更正" and details["version"] == 2
        assert verify(s).ok


def test_clearing_and_occupation(bank: Bank) -> None:
    version = update(bank, LEAD, address=None, occupation="retired")
    assert (version.address, version.occupation, version.phone) == (None, "retired", "138****5678")


def test_what_is_refused(bank: Bank) -> None:
    with pytest.raises(ValidationError):
        ContactUpdate(phone="23812345678", reason="更正号码")
    with pytest.raises(ValidationError):
        ContactUpdate(occupation="astronaut", reason="更正职业")
    with pytest.raises(ValidationError):
        ContactUpdate(phone="13812345678", reason="  ")
    with pytest.raises(ValidationError):
        ContactUpdate(income_monthly="-1", reason="更正收入")
    with pytest.raises(service.ContactError, match="nothing changed"):
        update(bank, phone=PHONES["C1"])
    with pytest.raises(service.ContactError, match="cannot be removed"):
        update(bank, phone=None)
    update(bank, occupation="executive")
    with pytest.raises(service.ContactConflict):
        update(bank, occupation="retired", expected_version=1)


def test_scope_and_permission(bank: Bank) -> None:
    with pytest.raises(NotFound):
        update(bank, RM2, "C1", occupation="retired")
    with pytest.raises(PermissionDenied):
        update(bank, COMPLIANCE, "C1", occupation="retired")
    with pytest.raises(NotFound), session_scope(bank.factory) as s:
        service.contact_history(s, RM2, "C1", actor=ACTOR, cipher=bank.cipher, masker=Masker())
    with session_scope(bank.factory) as s:
        assert search(s, action="customer.contact_change") == []
