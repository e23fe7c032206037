"""Customer queries; every one that serves a person takes the principal and applies its record scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from bankcrm.customers.models import PUBLISHED_COLUMN_NAMES, Customer
from bankcrm.products.models import Account, Product
from bankcrm.security.permissions import Principal, ScopeShape, bound_scope_filter, scope_params, scope_shape

# products that mature: an RM calls before the money is paid out (and may leave the bank)
MATURING_CATEGORIES = ("deposit_time", "wealth")


@lru_cache(maxsize=64)
def _in_scope_select(scope: ScopeShape) -> Select[Customer]:
    """One customer by id within a scope, built once per scope shape (the ids are bound parameters).

    Every customer page and API call runs it, and building a statement and its cache key costs
    SQLAlchemy about as much again as executing it.
    """
    return select(Customer).where(Customer.customer_id == bindparam("customer_id"), bound_scope_filter(scope))


def get_in_scope(session: Session, principal: Principal, customer_id: str) -> Customer | None:
    """The customer when it exists and the principal may see it; None for missing and hidden alike."""
    params = {"customer_id": customer_id, **scope_params(principal)}
    return session.scalars(_in_scope_select(scope_shape(principal)), params).one_or_none()


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


# the current run's score columns of a list row, in ListRow's order, as kept on the customer row
LIST_SCORE_COLUMNS = tuple(getattr(Customer, name) for name in PUBLISHED_COLUMN_NAMES)


@dataclass(frozen=True)
class _ListShape:
    """What decides a list statement's SQL; the scope's ids and the filter values are bound parameters."""

    scope: ScopeShape
    name: bool
    phone: bool
    id_number: bool
    tier: bool
    segment: bool
    value_class: bool
    maturing: bool
    sort: str


def _conditions(shape: _ListShape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [bound_scope_filter(shape.scope)]
    if shape.name:
        conditions.append(Customer.name.like(bindparam("name_like"), escape="/"))
    if shape.phone:
        conditions.append(Customer.phone_bidx == bindparam("phone_bidx"))
    if shape.id_number:
        conditions.append(Customer.id_number_bidx == bindparam("id_number_bidx"))
    if shape.tier:
        conditions.append(Customer.published_tier == bindparam("tier"))
    if shape.segment:
        conditions.append(Customer.published_segment == bindparam("segment"))
    if shape.value_class:
        conditions.append(Customer.published_value_class == bindparam("value_class"))
    if shape.maturing:
        conditions.append(maturing_between(bindparam("maturing_from"), bindparam("maturing_until")))
    return conditions


@lru_cache(maxsize=1024)
def _list_select(shape: _ListShape) -> Select[Any]:
    """The page statement of one shape, built once (SQLAlchemy's construction and cache key cost
    about as much as running it); the page's rows come with the total in every row.

    Two steps in one statement: the page's customer ids, list scores and the total are found in
    the index that holds the scope and the published scores (on PostgreSQL an index-only scan of
    ``ix_customers_rm_id_customer_id`` or ``ix_customers_branch_id``), then only the page's own
    rows are read for name and phone.
    """
    key = Customer.published_aum_avg_30d if shape.sort == "aum" else Customer.published_value_index
    page = (
        select(Customer.customer_id, *LIST_SCORE_COLUMNS, func.count().over().label("total"))
        .where(*_conditions(shape))
        .order_by(key.desc().nulls_last(), Customer.customer_id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery("page")
    )
    row = aliased(Customer, name="row")
    return (
        select(
            page.c.customer_id,
            row.name,
            row.phone_enc,
            row.branch_id,
            row.rm_id,
            *(page.c[column.key] for column in LIST_SCORE_COLUMNS),
            page.c.total,
        )
        .join(row, row.customer_id == page.c.customer_id)
        .order_by(page.c[key.key].desc().nulls_last(), page.c.customer_id)
    )


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching names that start with ``text`` literally (escape character ``/``)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def list_in_scope(session: Session, principal: Principal, flt: CustomerListFilter) -> tuple[list[ListRow], int]:
    """One page of the principal's customers with the current run's list scores, and the total matching.

    The scores are the customers' ``published_*`` columns, which publishing a run sets; ``flt.run_id``
    (the current run) only tells whether there is one: without it no customer has scores, and a
    score filter matches nothing.
    """
    by_score = flt.tier or flt.segment or flt.value_class
    if flt.run_id is None and by_score:
        return [], 0
    maturing = flt.maturing_from is not None and flt.maturing_until is not None
    shape = _ListShape(
        scope_shape(principal),
        name=bool(flt.name_prefix),
        phone=bool(flt.phone_bidx),
        id_number=bool(flt.id_number_bidx),
        tier=bool(flt.tier),
        segment=bool(flt.segment),
        value_class=bool(flt.value_class),
        maturing=maturing,
        sort="aum" if flt.sort == "aum" else "value_index",
    )
    params: dict[str, Any] = {
        "name_like": _like_prefix(flt.name_prefix or ""),
        "phone_bidx": flt.phone_bidx,
        "id_number_bidx": flt.id_number_bidx,
        "tier": flt.tier,
        "segment": flt.segment,
        "value_class": flt.value_class,
        "maturing_from": flt.maturing_from,
        "maturing_until": flt.maturing_until,
        "offset": flt.offset,
        "limit": flt.limit,
        **scope_params(principal),
    }
    found: Sequence[Any] = session.execute(_list_select(shape), params).all()  # more columns than Row types
    rows = [ListRow(*row[:-1]) for row in found]
    if found:
        return rows, int(found[0][-1])
    if flt.offset == 0:
        return rows, 0
    # a page past the end has no row to carry the total: count on its own
    total = session.scalar(select(func.count()).select_from(Customer).where(*_conditions(shape)), params)
    return rows, int(total or 0)


def maturing_between(first: ColumnElement[date], last: ColumnElement[date]) -> ColumnElement[bool]:
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
