"""Holdings by category, the 12-month AUM trend and paged transactions of one customer, through a principal.

Holdings and the trend come from what the current nightly run published (operational DB
only); transactions come from the lake. Every call checks ``customer.read`` and the record
scope first (out of scope is ``NotFound``, exactly like a missing customer). The ``view_*``
functions and ``transactions_page`` audit their read as ``customer.view`` with the section;
``holdings_of`` and ``aum_trend_of`` do not, for a caller such as the 360 view that has
already audited the view of the whole customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bankcrm.analytics.holdings import month_ends
from bankcrm.audit.service import Actor, AuditAction, record
from bankcrm.customers import repository as customers_repo
from bankcrm.holdings import lake_reader
from bankcrm.holdings import repository as repo
from bankcrm.reference import ASSET_CATEGORIES, PRODUCT_CATEGORIES, TX_CATEGORIES, category_kind
from bankcrm.scores import repository as scores_repo
from bankcrm.security.permissions import NotFound, Permission, Principal, require

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
MAX_PAGE_SIZE = 100
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class CategoryHolding:
    category: str
    kind: str  # asset or liability
    balance: Decimal
    accounts: int
    share: float  # of all assets (or of all liabilities)


@dataclass(frozen=True)
class Position:
    account_id: str
    product_id: str
    product_name: str
    category: str
    kind: str
    balance: Decimal
    balance_avg_30d: Decimal
    opened_on: date
    maturity_on: date | None
    risk_level: str | None


@dataclass(frozen=True)
class Holdings:
    run_id: int
    as_of: date
    total_assets: Decimal
    total_liabilities: Decimal
    categories: list[CategoryHolding]
    positions: list[Position]


@dataclass(frozen=True)
class AumPoint:
    month_end: date
    aum: Decimal
    aum_avg: Decimal
    liability: Decimal


@dataclass(frozen=True)
class AumTrend:
    run_id: int
    as_of: date
    points: list[AumPoint]


@dataclass(frozen=True)
class TransactionQuery:
    month: str | None = None  # YYYY-MM
    category: str | None = None
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class TransactionRow:
    tx_id: str
    account_id: str
    ts: datetime  # Asia/Shanghai
    tx_date: date
    amount: Decimal
    channel: str
    category: str
    merchant_group: str | None
    counterparty: str | None  # masked pseudonym


@dataclass(frozen=True)
class TransactionPage:
    rows: list[TransactionRow]
    page: int
    page_size: int
    has_next: bool
    month: str | None
    category: str | None
    months: list[str]  # the lake's months, newest first, for the month filter


class QueryError(ValueError):
    """A filter value outside its list (the web layer answers 422)."""


def _in_scope(session: Session, principal: Principal, customer_id: str) -> None:
    require(principal, Permission.CUSTOMER_READ)
    if customers_repo.get_in_scope(session, principal, customer_id) is None:
        raise NotFound("customer")


def _money(value: Decimal | float | int | None) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _share(part: Decimal, whole: Decimal) -> float:
    return float(part / whole) if whole else 0.0


def holdings_of(session: Session, customer_id: str) -> Holdings | None:
    """The published positions by category (unchecked: callers check scope and audit); None before any run."""
    current = scores_repo.current_run(session)
    if current is None:
        return None
    run_id, as_of = current
    positions = [
        Position(
            account_id=p.account_id,
            product_id=product.product_id,
            product_name=product.name,
            category=p.category,
            kind=category_kind(p.category),
            balance=_money(p.balance),
            balance_avg_30d=_money(p.balance_avg_30d),
            opened_on=account.opened_on,
            maturity_on=account.maturity_on,
            risk_level=product.risk_level,
        )
        for p, account, product in repo.positions_of(session, run_id, customer_id)
    ]
    total_assets = sum((p.balance for p in positions if p.kind == "asset"), Decimal("0.00"))
    total_liabilities = sum((p.balance for p in positions if p.kind == "liability"), Decimal("0.00"))
    by_category: dict[str, list[Position]] = {}
    for p in positions:
        by_category.setdefault(p.category, []).append(p)
    categories = []
    for category in PRODUCT_CATEGORIES:  # the catalogue's order: assets, then liabilities
        held = by_category.get(category)
        if not held:
            continue
        balance = sum((p.balance for p in held), Decimal("0.00"))
        whole = total_assets if category in ASSET_CATEGORIES else total_liabilities
        share = _share(balance, whole)
        categories.append(CategoryHolding(category, category_kind(category), balance, len(held), share))
    return Holdings(run_id, as_of, total_assets, total_liabilities, categories, positions)


def aum_trend_of(session: Session, customer_id: str) -> AumTrend | None:
    """The 12 published month-ends, months without holdings as zero (unchecked); None before any run."""
    current = scores_repo.current_run(session)
    if current is None:
        return None
    run_id, as_of = current
    stored = {row.month_end: row for row in repo.month_aum_of(session, run_id, customer_id)}
    zero = Decimal("0.00")
    points = []
    for end in month_ends(as_of):
        row = stored.get(end)
        points.append(
            AumPoint(end, _money(row.aum), _money(row.aum_avg), _money(row.liability))
            if row is not None
            else AumPoint(end, zero, zero, zero)
        )
    return AumTrend(run_id, as_of, points)


def _audit_section(session: Session, actor: Actor, customer_id: str, section: str, **details: object) -> None:
    record(
        session,
        actor,
        AuditAction.CUSTOMER_VIEW,
        target_type="customer",
        target_id=customer_id,
        details={"section": section, **details},
    )


def view_holdings(session: Session, principal: Principal, customer_id: str, *, actor: Actor) -> Holdings | None:
    """Holdings by category of a customer in scope, audited."""
    _in_scope(session, principal, customer_id)
    result = holdings_of(session, customer_id)
    _audit_section(session, actor, customer_id, "holdings")
    return result


def view_aum_trend(session: Session, principal: Principal, customer_id: str, *, actor: Actor) -> AumTrend | None:
    """The 12-month AUM trend of a customer in scope, audited."""
    _in_scope(session, principal, customer_id)
    result = aum_trend_of(session, customer_id)
    _audit_section(session, actor, customer_id, "aum_trend")
    return result


def mask_counterparty(value: str | None) -> str | None:
    """The lake holds keyed pseudonyms (``cp_`` + hash); show only enough to tell a few apart."""
    if not value:
        return None
    return value[:7] + "****"


def transactions_page(
    session: Session,
    principal: Principal,
    customer_id: str,
    query: TransactionQuery,
    *,
    lake_dir: Path,
    actor: Actor,
) -> TransactionPage:
    """One page of the customer's transactions from the lake, newest first, filtered by month and category."""
    _in_scope(session, principal, customer_id)
    if query.month is not None and not _MONTH.fullmatch(query.month):
        raise QueryError(f"month: expected YYYY-MM, got {query.month!r}")
    if query.category is not None and query.category not in TX_CATEGORIES:
        raise QueryError(f"category: expected one of {', '.join(TX_CATEGORIES)}")
    page = max(query.page, 1)
    page_size = min(max(query.page_size, 1), MAX_PAGE_SIZE)
    months = lake_reader.months_with_transactions(lake_dir)
    wanted = [query.month] if query.month else months
    found = lake_reader.read_transactions(
        lake_dir,
        repo.account_ids_of(session, customer_id),
        months=[m for m in wanted if m in months],
        category=query.category,
        skip=(page - 1) * page_size,
        take=page_size + 1,
    )
    rows = [
        TransactionRow(
            tx_id=str(r["tx_id"]),
            account_id=str(r["account_id"]),
            ts=_local(r["ts"]),
            tx_date=r["tx_date"],  # type: ignore[arg-type]
            amount=_money(r["amount"]),  # type: ignore[arg-type]
            channel=str(r["channel"]),
            category=str(r["category"]),
            merchant_group=r["merchant_group"],  # type: ignore[arg-type]
            counterparty=mask_counterparty(r["counterparty"]),  # type: ignore[arg-type]
        )
        for r in found[:page_size]
    ]
    _audit_section(session, actor, customer_id, "transactions", month=query.month, category=query.category, page=page)
    return TransactionPage(rows, page, page_size, len(found) > page_size, query.month, query.category, months)


def _local(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value.astimezone(LOCAL_TZ)
