"""Holdings, AUM trend and transactions of one customer as JSON; 404 when missing or out of scope."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from bankcrm.holdings import service
from bankcrm.holdings.schemas import AumTrendRead, HoldingsRead, TransactionPageRead
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, Runtime

router = APIRouter(prefix="/customers", tags=["customers"])

TxCategory = Literal[
    "payroll",
    "transfer_in",
    "transfer_out",
    "purchase",
    "repayment",
    "fee",
    "interest",
    "investment",
    "redemption",
    "cash",
]


@router.get("/{customer_id}/holdings", response_model=HoldingsRead)
def holdings(customer_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> HoldingsRead:
    """Positions at the current run's as_of, grouped by product category; audited."""
    return HoldingsRead.of(service.view_holdings(db, principal, customer_id, actor=actor))


@router.get("/{customer_id}/aum-trend", response_model=AumTrendRead)
def aum_trend(customer_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> AumTrendRead:
    """AUM, monthly average AUM and liabilities at the last 12 month-ends; audited."""
    return AumTrendRead.of(service.view_aum_trend(db, principal, customer_id, actor=actor))


@router.get("/{customer_id}/transactions", response_model=TransactionPageRead)
def transactions(
    customer_id: str,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")] = None,
    category: TxCategory | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 20,
) -> TransactionPageRead:
    """The customer's transactions, newest first, with masked counterparties; audited."""
    query = service.TransactionQuery(month=month, category=category, page=page, page_size=page_size)
    try:
        result = service.transactions_page(
            db, principal, customer_id, query, lake_dir=runtime.settings.lake_dir, actor=actor
        )
    except service.QueryError as exc:
        raise HTTPException(422, str(exc)) from exc
    return TransactionPageRead.of(result)
