"""Customer queries; every one that serves a person takes the principal and applies its record scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from bankcrm.customers.models import Customer
from bankcrm.products.models import Account, Product
from bankcrm.scores.models import LIST_COLUMN_NAMES, CustomerScore
from bankcrm.security.permissions import Principal, customer_scope_filter

# products that mature: an RM calls before the money is paid out (and may leave the bank)
MATURING_CATEGORIES = ("deposit_time", "wealth")


@lru_cache(maxsize=1024)
def _in_scope_select(principal: Principal) -> Select[Customer]:
    """One customer by id within the principal's scope, built once per principal (a bound id parameter).

    Every customer page and API call runs it, and building a statement and its cache key costs
    SQLAlchemy about as much again as executing it.
    """
    return select(Customer).where(Customer.customer_id == bindparam("customer_id"), customer_scope_filter(principal))


def get_in_scope(session: Session, principal: Principal, customer_id: str) -> Customer | None:
    """The customer when it exists and the principal may see it; None for missing and hidden alike."""
    return session.scalars(_in_scope_select(principal), {"customer_id": customer_id}).one_or_none()


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


@dataclass(frozen=True, slots=True)
class ListRow:
    """One customer of a list page: what the row shows, with the scores of the run (None without one)."""

    customer_id: str
    name: str
    phone_enc: str
    branch_id: str
    rm_id: str | None
    tier: str | None
    segment: str | None
    value_class: str | None
    aum_avg_30d: float | None
    value_index: float | None


# the score columns of a list row, in ListRow's order (a score row has some sixty columns); the
# same names the scores index includes on PostgreSQL, so the page is found by index-only scans
LIST_SCORE_COLUMNS = tuple(getattr(CustomerScore, name) for name in LIST_COLUMN_NAMES)


def list_in_scope(session: Session, principal: Principal, flt: CustomerListFilter) -> tuple[list[ListRow], int]:
    """One page of the principal's customers with their scores in the run, and the total matching.

    Two steps in one statement: the page's customer ids, scores and the total are found from
    the customer id and score columns alone (index-only scans of ``ix_customers_rm_id_customer_id``
    and, on PostgreSQL, of the scores index that includes the list columns), then only the page's
    customers are read for their name and phone. Selecting the customer columns in the first
    step would read a heap page for every customer in scope to show twenty.
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
    page = (
        select(Customer.customer_id, *LIST_SCORE_COLUMNS, func.count().over().label("total"))
        .select_from(Customer)
        .outerjoin(CustomerScore, on_run)
        .where(*conditions)
        .order_by(key.desc().nulls_last(), Customer.customer_id)
        .offset(flt.offset)
        .limit(flt.limit)
        .subquery("page")
    )
    stmt = (
        select(
            page.c.customer_id,
            Customer.name,
            Customer.phone_enc,
            Customer.branch_id,
            Customer.rm_id,
            *(page.c[column.key] for column in LIST_SCORE_COLUMNS),
            page.c.total,
        )
        .join(Customer, Customer.customer_id == page.c.customer_id)
        .order_by(page.c[key.key].desc().nulls_last(), page.c.customer_id)
    )
    found: Sequence[Any] = session.execute(stmt).all()  # eleven columns: more than Row's typing spells out
    rows = [ListRow(*row[:-1]) for row in found]
    if found:
        return rows, int(found[0][-1])
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
