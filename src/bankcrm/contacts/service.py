"""Correcting a customer's contact details (phone, address, e-mail, occupation, income) with version history.

Needs ``customer.write_contact``, the customer in scope and a reason. Each correction becomes
the next ``contact_versions`` row (source ``staff``, who and why) and updates the customer;
sensitive values are stored encrypted (the phone with its blind index, so a search by the new
number finds the customer). The audit event keeps the changed fields with masked before and
after values and the reason.

The customer's ``contact_fingerprint`` is left as the last extract set it: it describes what
the bank's systems sent, so an unchanged extract does not start a version of its own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.contacts import repository as repo
from bankcrm.contacts.schemas import ContactUpdate, ContactVersionRead
from bankcrm.customers import repository as customers_repo
from bankcrm.customers.models import ContactVersion, Customer
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.crypto import FieldCipher
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import NotFound, Permission, Principal, require

CONTACT_CHANGE = "customer.contact_change"
STAFF = "staff"
# field -> (encrypted column, encryption context)
ENCRYPTED = {"phone": ("phone_enc", "phone"), "address": ("address_enc", "address"), "email": ("email_enc", "email")}


class ContactError(ValueError):
    """A correction that cannot be applied (nothing changed, phone removed …): the web layer answers 422."""


class ContactConflict(ContactError):
    """Someone changed the details since the form was filled (the web layer answers 409)."""


def _scoped(session: Session, principal: Principal, customer_id: str) -> Customer:
    customer = customers_repo.get_in_scope(session, principal, customer_id)
    if customer is None:
        raise NotFound("customer")
    return customer


def _current(customer: Customer, cipher: FieldCipher) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: cipher.decrypt(getattr(customer, column), context=context)
        for name, (column, context) in ENCRYPTED.items()
    }
    values["occupation"] = customer.occupation
    values["income_monthly"] = None if customer.income_monthly is None else Decimal(customer.income_monthly)
    return values


def update_contact(
    session: Session,
    principal: Principal,
    customer_id: str,
    update: ContactUpdate,
    *,
    actor: Actor,
    cipher: FieldCipher,
    masker: Masker,
    clock: Clock = system_clock,
) -> ContactVersionRead:
    """Apply a correction to a customer in scope as a new contact version; audited with masked before/after."""
    require(principal, Permission.CUSTOMER_WRITE_CONTACT)
    customer = _scoped(session, principal, customer_id)
    if update.expected_version is not None and update.expected_version != customer.contact_version:
        raise ContactConflict(
            f"the contact details changed since version {update.expected_version} (now {customer.contact_version})"
        )
    before = _current(customer, cipher)
    changes = update.changes()
    if "phone" in changes and changes["phone"] is None:
        raise ContactError("the mobile number cannot be removed, only corrected")
    income = changes.get("income_monthly")
    if isinstance(income, Decimal):
        changes["income_monthly"] = income.quantize(Decimal("0.01"))
    after = {**before, **changes}
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        raise ContactError("nothing changed")
    now = clock()
    for name in changed:
        if name in ENCRYPTED:
            column, context = ENCRYPTED[name]
            setattr(customer, column, cipher.encrypt(after[name], context=context))
    if "phone" in changed:
        customer.phone_bidx = cipher.blind_index(after["phone"], field="phone")  # type: ignore[assignment]
    customer.occupation = after["occupation"]
    customer.income_monthly = after["income_monthly"]
    customer.contact_version = (customer.contact_version or 0) + 1
    customer.updated_at = now
    version = ContactVersion(
        customer_id=customer_id,
        version=customer.contact_version,
        phone_enc=customer.phone_enc,
        address_enc=customer.address_enc,
        email_enc=customer.email_enc,
        occupation=customer.occupation,
        income_monthly=customer.income_monthly,
        changed_at=now,
        changed_by=principal.staff_id or principal.username,
        source=STAFF,
        reason=update.reason,
    )
    repo.add_version(session, version)
    # decided on the clear values: two phone numbers can look alike once masked
    old = masker.mask_mapping({k: before[k] for k in changed})
    new = masker.mask_mapping({k: after[k] for k in changed})
    record(
        session,
        actor,
        CONTACT_CHANGE,
        target_type="customer",
        target_id=customer_id,
        details={"before": old, "after": new, "fields": changed, "reason": update.reason, "version": version.version},
        clock=clock,
    )
    return _read(version, cipher, masker)


def _read(version: ContactVersion, cipher: FieldCipher, masker: Masker) -> ContactVersionRead:
    def field(name: str) -> str | None:
        column, context = ENCRYPTED[name]
        return masker.mask(name, cipher.decrypt(getattr(version, column), context=context))

    return ContactVersionRead(
        version=version.version,
        phone=field("phone"),
        address=field("address"),
        email=field("email"),
        occupation=version.occupation,
        income_monthly=version.income_monthly,
        changed_at=version.changed_at,
        changed_by=version.changed_by,
        source=version.source,
        reason=version.reason,
    )


def history_of(
    session: Session, customer_id: str, *, cipher: FieldCipher, masker: Masker, limit: int = 50
) -> list[ContactVersionRead]:
    """The contact versions newest first, masked (unchecked: callers check scope and audit)."""
    return [_read(v, cipher, masker) for v in repo.versions_of(session, customer_id, limit=limit)]


def contact_history(
    session: Session,
    principal: Principal,
    customer_id: str,
    *,
    actor: Actor,
    cipher: FieldCipher,
    masker: Masker,
    limit: int = 50,
) -> list[ContactVersionRead]:
    """The masked version history of a customer in scope, audited as a view."""
    require(principal, Permission.CUSTOMER_READ)
    _scoped(session, principal, customer_id)
    versions = history_of(session, customer_id, cipher=cipher, masker=masker, limit=limit)
    record(
        session,
        actor,
        AuditAction.CUSTOMER_VIEW,
        target_type="customer",
        target_id=customer_id,
        details={"section": "contact_history"},
    )
    return versions
