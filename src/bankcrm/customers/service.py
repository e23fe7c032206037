"""Reading a customer through a principal: permission, record scope, masking, reveal and audit together.

These are the only doors the web app and the API use to customer rows, so scope and audit
cannot be forgotten on one page. An out-of-scope customer raises ``NotFound`` exactly like a
missing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record, record_reveal
from bankcrm.customers import repository as repo
from bankcrm.customers.models import Customer
from bankcrm.scores import repository as scores_repo
from bankcrm.scores.models import CustomerScore
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


# ---- lists, search and the 360 view -------------------------------------------------------

TIERS = ("vip", "potential", "ordinary")
SEGMENTS = ("A", "B", "C", "D")
VALUE_CLASSES = ("high_value", "micro_profit", "breakeven", "loss")
SORTS = ("value_index", "aum")
MAX_PAGE_SIZE = 100
MAX_MATURITY_DAYS = 366
MATURITY_CHOICES = (7, 30, 90)  # the workbench's "maturing soon" filter, in days
_PHONE = re.compile(r"1\d{10}")
_ID_NUMBER = re.compile(r"\d{17}[\dXx]")


@dataclass(frozen=True)
class CustomerQuery:
    """What a list or search asks for; unknown filter values are ignored rather than matched."""

    tier: str | None = None
    segment: str | None = None
    value_class: str | None = None
    q: str | None = None  # a name prefix, or an exact mobile or ID number
    sort: str = "value_index"
    page: int = 1
    page_size: int = 20
    maturing_within_days: int | None = None  # an open time deposit or wealth product maturing within N days


@dataclass(frozen=True)
class CustomerRow:
    customer_id: str
    name: str | None
    phone: str | None
    branch_id: str
    rm_id: str | None
    tier: str | None
    segment: str | None
    value_class: str | None
    aum_avg_30d: Decimal | None
    value_index: float | None


@dataclass(frozen=True)
class CustomerPage:
    rows: list[CustomerRow]
    total: int
    page: int
    page_size: int
    run_id: int | None
    as_of: date | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class Customer360:
    """The masked profile with the latest published scores and the tier history."""

    customer: MaskedCustomer
    score: CustomerScore | None
    as_of: date | None
    tier_history: list[tuple[date, str]]


def cents(value: float | None) -> Decimal | None:
    """A published float amount as Decimal money (cents)."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def search_kind(q: str | None) -> str | None:
    """How a search text is matched: exact mobile or ID number (blind index), else a name prefix."""
    text = (q or "").strip()
    if not text:
        return None
    if _PHONE.fullmatch(text):
        return "phone"
    if _ID_NUMBER.fullmatch(text):
        return "id_number"
    return "name"


def _current_run(session: Session) -> tuple[int | None, date | None]:
    current = scores_repo.current_run(session)
    return current if current is not None else (None, None)


def list_customers(
    session: Session,
    principal: Principal,
    query: CustomerQuery,
    *,
    actor: Actor,
    cipher: FieldCipher,
    masker: Masker,
    today: date | None = None,
) -> CustomerPage:
    """One page of the principal's customers, masked, with the current run's scores; audited as list or search.

    ``today`` (the bank's calendar day) anchors the maturity filter; without it that filter is ignored.
    """
    require(principal, Permission.CUSTOMER_READ)
    run_id, as_of = _current_run(session)
    days = query.maturing_within_days
    maturing = today is not None and days is not None and 0 <= days <= MAX_MATURITY_DAYS
    page_size = min(max(query.page_size, 1), MAX_PAGE_SIZE)
    page = max(query.page, 1)
    text = (query.q or "").strip()[:100]
    kind = search_kind(text)
    flt = repo.CustomerListFilter(
        run_id=run_id,
        tier=query.tier if query.tier in TIERS else None,
        segment=query.segment if query.segment in SEGMENTS else None,
        value_class=query.value_class if query.value_class in VALUE_CLASSES else None,
        name_prefix=text if kind == "name" else None,
        phone_bidx=cipher.blind_index(text, field="phone") if kind == "phone" else None,
        id_number_bidx=cipher.blind_index(text.upper(), field="id_number") if kind == "id_number" else None,
        maturing_from=today if maturing else None,
        maturing_until=today + timedelta(days=days) if maturing and today and days is not None else None,
        sort=query.sort if query.sort in SORTS else "value_index",
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    found, total = repo.list_in_scope(session, principal, flt)
    rows = [
        CustomerRow(
            customer_id=r.customer_id,
            name=masker.mask("name", r.name),
            phone=masker.mask("phone", cipher.decrypt(r.phone_enc, context="phone")),
            branch_id=r.branch_id,
            rm_id=r.rm_id,
            tier=r.tier,
            segment=r.segment,
            value_class=r.value_class,
            aum_avg_30d=cents(r.aum_avg_30d),
            value_index=r.value_index,
        )
        for r in found
    ]
    filters: dict[str, object] = {
        k: v for k, v in (("tier", flt.tier), ("segment", flt.segment), ("value_class", flt.value_class)) if v
    }
    if maturing:
        filters["maturing_within_days"] = days
    details: dict[str, object] = {
        "filters": filters,
        "sort": flt.sort,
        "page": page,
        "page_size": page_size,
        "results": total,
        "run_id": run_id,
    }
    if kind is not None:
        # the search text itself is personal data: only its masked form goes into the log
        details["search"] = {"kind": kind, "text": masker.mask("name" if kind == "name" else kind, text)}
    action = AuditAction.CUSTOMER_SEARCH if kind else AuditAction.CUSTOMER_LIST
    record(session, actor, action, target_type="customer", details=details)
    return CustomerPage(rows, total, page, page_size, run_id, as_of)


def customer_360(
    session: Session, principal: Principal, customer_id: str, *, actor: Actor, cipher: FieldCipher, masker: Masker
) -> Customer360:
    """The masked customer (audited as ``customer.view``) with latest scores; NotFound when missing or out of scope."""
    require(principal, Permission.CUSTOMER_READ)
    view = masked(_scoped(session, principal, customer_id), cipher, masker)
    current = scores_repo.current_score_of(session, customer_id)
    as_of, score = (current[1], current[2]) if current is not None else (None, None)
    history = [(h.as_of, h.tier) for h in scores_repo.tier_history_of(session, customer_id)]
    record(session, actor, AuditAction.CUSTOMER_VIEW, target_type="customer", target_id=customer_id)
    return Customer360(view, score, as_of, history)
