"""JSON shapes of holdings, the AUM trend and transactions (amounts in CNY as decimal strings)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from bankcrm.holdings.service import AumTrend, Holdings, TransactionPage


class CategoryHoldingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    category: str
    kind: str = Field(description="asset or liability")
    balance: Decimal
    accounts: int
    share: float = Field(description="fraction of all assets (or of all liabilities)")


class PositionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_id: str
    product_id: str
    product_name: str
    category: str
    kind: str
    balance: Decimal = Field(description="balance at the run's as_of (for loans and cards: the amount owed)")
    balance_avg_30d: Decimal
    opened_on: date
    maturity_on: date | None
    risk_level: str | None


class HoldingsRead(BaseModel):
    run_id: int | None = Field(description="the published nightly run; null before the first one")
    as_of: date | None
    total_assets: Decimal
    total_liabilities: Decimal
    categories: list[CategoryHoldingRead]
    positions: list[PositionRead]

    @classmethod
    def of(cls, h: Holdings | None) -> HoldingsRead:
        if h is None:
            zero = Decimal("0.00")
            return cls(run_id=None, as_of=None, total_assets=zero, total_liabilities=zero, categories=[], positions=[])
        return cls(
            run_id=h.run_id,
            as_of=h.as_of,
            total_assets=h.total_assets,
            total_liabilities=h.total_liabilities,
            categories=[CategoryHoldingRead.model_validate(c) for c in h.categories],
            positions=[PositionRead.model_validate(p) for p in h.positions],
        )


class AumPointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    month_end: date
    aum: Decimal = Field(description="AUM on the month-end (the run's as_of for the last point)")
    aum_avg: Decimal = Field(description="average daily AUM over that month up to month_end")
    liability: Decimal


class AumTrendRead(BaseModel):
    run_id: int | None
    as_of: date | None
    points: list[AumPointRead]

    @classmethod
    def of(cls, t: AumTrend | None) -> AumTrendRead:
        if t is None:
            return cls(run_id=None, as_of=None, points=[])
        return cls(run_id=t.run_id, as_of=t.as_of, points=[AumPointRead.model_validate(p) for p in t.points])


class TransactionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tx_id: str
    account_id: str
    ts: datetime = Field(description="Asia/Shanghai")
    tx_date: date
    amount: Decimal = Field(description="signed: + into the account")
    channel: str
    category: str
    merchant_group: str | None
    counterparty: str | None = Field(description="masked pseudonym")


class TransactionPageRead(BaseModel):
    items: list[TransactionRead]
    page: int
    page_size: int
    has_next: bool
    month: str | None
    category: str | None
    months: list[str] = Field(description="months held in the lake, newest first")

    @classmethod
    def of(cls, p: TransactionPage) -> TransactionPageRead:
        return cls(
            items=[TransactionRead.model_validate(r) for r in p.rows],
            page=p.page,
            page_size=p.page_size,
            has_next=p.has_next,
            month=p.month,
            category=p.category,
            months=p.months,
        )
