"""Customer queries; every one that serves a person takes the principal and applies its record scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, load_only

from bankcrm.customers.models import Customer
from bankcrm.products.models import Account, Product
from bankcrm.scores.models import CustomerScore
from bankcrm.security.permissions import Principal, customer_scope_filter

# products that mature: an RM calls before the money is paid out (and may leave the bank)
MATURING_CATEGORIES = ("deposit_time", "wealth")


def get_in_scope(session: Session, principal: Principal, customer_id: str) -> Customer | None:
    """The customer when it exists and the principal may see it; None for missing and hidden alike."""
    stmt = select(Customer).where(Customer.customer_id == customer_id, customer_scope_filter(principal))
    return session.scalars(stmt).one_or_none()


@dataclass(frozen=True)
class CustomerListFilter:
    """Filters of the customer list; the score filters apply to the given published run."""

    run_id: int | None = None
    tier: str | None = None
    segment: str | None = None
    value_class: str | None = None
    name_prefix: str | None = None
    phone_bidx: str | None = None
    id_number_bidx: str | None = None
    maturing_from: date | None = None  # with maturing_until: an open time deposit or wealth product
    maturing_until: date | None = None  # maturing between the two days, both included
    sort: str = "value_index"  # value_index or aum, both highest first
    offset: int = 0
    limit: int = 20


# the columns a list row shows: a page loads only these (a score row has some sixty columns)
LIST_CUSTOMER_COLUMNS = (Customer.customer_id, Customer.name, Customer.phone_enc, Customer.branch_id, Customer.rm_id)
LIST_SCORE_COLUMNS = (
    CustomerScore.tier,
    CustomerScore.segment,
    CustomerScore.value_class,
    CustomerScore.aum_avg_30d,
    CustomerScore.value_index,
)


def list_in_scope(
    session: Session, principal: Principal, flt: CustomerListFilter
) -> tuple[list[tuple[Customer, CustomerScore | None]], int]:
    """One page of the principal's customers with their scores in the run, and the total matching.

    The entities carry only LIST_CUSTOMER_COLUMNS and LIST_SCORE_COLUMNS; reading any other
    attribute raises instead of querying row by row.
    """
    by_score = flt.tier or flt.segment or flt.value_class
    if flt.run_id is None and by_score:
        return [], 0
    conditions: list[ColumnElement[bool]] = [customer_scope_filter(principal)]
    if flt.name_prefix:
        conditions.append(Customer.name.startswith(flt.name_prefix, autoescape=True))
    if flt.phone_bidx:
        conditions.append(Customer.phone_bidx == flt.phone_bidx)
    if flt.id_number_bidx:
        conditions.append(Customer.id_number_bidx == flt.id_number_bidx)
    if flt.tier:
        conditions.append(CustomerScore.tier == flt.tier)
    if flt.segment:
        conditions.append(CustomerScore.segment == flt.segment)
    if flt.value_class:
        conditions.append(CustomerScore.value_class == flt.value_class)
    if flt.maturing_from is not None and flt.maturing_until is not None:
        conditions.append(maturing_between(flt.maturing_from, flt.maturing_until))
    on_run = and_(CustomerScore.customer_id == Customer.customer_id, CustomerScore.run_id == (flt.run_id or -1))
    key = CustomerScore.aum_avg_30d if flt.sort == "aum" else CustomerScore.value_index
    # the total rides along as a window count, so the matching customers are found once, not twice
    stmt = (
        select(Customer, CustomerScore, func.count().over().label("total"))
        .outerjoin(CustomerScore, on_run)
        .where(*conditions)
        .options(load_only(*LIST_CUSTOMER_COLUMNS, raiseload=True), load_only(*LIST_SCORE_COLUMNS, raiseload=True))
        .order_by(key.desc().nulls_last(), Customer.customer_id)
        .offset(flt.offset)
        .limit(flt.limit)
    )
    found = session.execute(stmt).all()
    rows: list[tuple[Customer, CustomerScore | None]] = [(row[0], row[1]) for row in found]
    if found:
        return rows, int(found[0][2])
    if flt.offset == 0:
        return rows, 0
    # a page past the end has no row to carry the total: count on its own
    total = session.scalar(
        select(func.count()).select_from(Customer).outerjoin(CustomerScore, on_run).where(*conditions)
    )
    return rows, int(total or 0)


def maturing_between(first: date, last: date) -> ColumnElement[bool]:
    """The customer holds an open time deposit or wealth product maturing between the two days."""
    return exists(
        select(Account.account_id)
        .join(Product, Product.product_id == Account.product_id)
        .where(
            Account.customer_id == Customer.customer_id,
            Account.maturity_on.between(first, last),
            or_(Account.closed_on.is_(None), Account.closed_on > first),
            Product.category.in_(MATURING_CATEGORIES),
        )
    )


def busiest_rm(session: Session) -> str | None:
    """The staff id of the relationship manager with the most customers (the demo RM login)."""
    stmt = (
        select(Customer.rm_id)
        .where(Customer.rm_id.is_not(None))
        .group_by(Customer.rm_id)
        .order_by(func.count().desc(), Customer.rm_id)
        .limit(1)
    )
    return session.scalar(stmt)
