"""Reading a customer through a principal: permission, record scope, masking, reveal and audit together.

These are the only doors the web app and the API use to customer rows, so scope and audit
cannot be forgotten on one page. An out-of-scope customer raises ``NotFound`` exactly like a
missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record, record_reveal
from bankcrm.customers import repository as repo
from bankcrm.customers.models import Customer
from bankcrm.security.crypto import FieldCipher
from bankcrm.security.masking import Masker
from bankcrm.security.permissions import NotFound, Permission, Principal, require

# field name -> (encrypted column, encryption context)
REVEALABLE = {
    "id_number": ("id_number_enc", "id_number"),
    "phone": ("phone_enc", "phone"),
    "address": ("address_enc", "address"),
    "email": ("email_enc", "email"),
}


@dataclass(frozen=True)
class MaskedCustomer:
    """What every screen shows by default."""

    customer_id: str
    name: str | None
    gender: str
    birth_date: date
    id_number: str | None
    phone: str | None
    address: str | None
    email: str | None
    branch_id: str
    rm_id: str | None


def _scoped(session: Session, principal: Principal, customer_id: str) -> Customer:
    customer = repo.get_in_scope(session, principal, customer_id)
    if customer is None:
        raise NotFound("customer")
    return customer


def masked(customer: Customer, cipher: FieldCipher, masker: Masker) -> MaskedCustomer:
    def field(name: str) -> str | None:
        column, context = REVEALABLE[name]
        return masker.mask(name, cipher.decrypt(getattr(customer, column), context=context))

    return MaskedCustomer(
        customer_id=customer.customer_id,
        name=masker.mask("name", customer.name),
        gender=customer.gender,
        birth_date=customer.birth_date,
        id_number=field("id_number"),
        phone=field("phone"),
        address=field("address"),
        email=field("email"),
        branch_id=customer.branch_id,
        rm_id=customer.rm_id,
    )


def view_customer(
    session: Session, principal: Principal, customer_id: str, *, actor: Actor, cipher: FieldCipher, masker: Masker
) -> MaskedCustomer:
    """The masked customer, audited as ``customer.view``; NotFound when missing or out of scope."""
    require(principal, Permission.CUSTOMER_READ)
    customer = _scoped(session, principal, customer_id)
    view = masked(customer, cipher, masker)
    record(session, actor, AuditAction.CUSTOMER_VIEW, target_type="customer", target_id=customer_id)
    return view


def reveal_field(
    session: Session,
    principal: Principal,
    customer_id: str,
    field: str,
    *,
    reason: str,
    actor: Actor,
    cipher: FieldCipher,
) -> str | None:
    """One field in clear, for one page view; needs ``customer.reveal`` and a reason, and is audited."""
    require(principal, Permission.CUSTOMER_REVEAL)
    if field not in REVEALABLE:
        raise ValueError(f"{field!r}: only {', '.join(REVEALABLE)} can be revealed")
    customer = _scoped(session, principal, customer_id)
    column, context = REVEALABLE[field]
    value = cipher.decrypt(getattr(customer, column), context=context)
    record_reveal(session, actor, target_type="customer", target_id=customer_id, field=field, reason=reason)
    return value
