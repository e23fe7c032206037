"""Per-account positions and month-end AUM published by the nightly run for the customer 360 view.

Balances live only in the lake; these small tables let the 360 view answer from the
operational database alone. Rows are keyed by the run that published them (``nightly_runs.id``;
no foreign key, so the nightly bulk insert is not checked row by row), and readers use the
current run (the pointer in ``app_state``), so a view never mixes two runs.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base


class AccountPosition(Base):
    """One asset or liability account of a customer at the run's as_of (open, or closed with a balance)."""

    __tablename__ = "account_positions"
    __table_args__ = (Index("ix_account_positions_customer_run", "customer_id", "run_id"),)

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32))
    product_id: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    # bal(a, as_of) (SPEC 4.1); for loans and cards the amount owed
    balance: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    # mean daily balance over [as_of − 29, as_of]
    balance_avg_30d: Mapped[Decimal] = mapped_column(Numeric(18, 2))


class CustomerMonthAum(Base):
    """A customer's AUM and liabilities at one month-end of the 12 before the run (the last is as_of itself).

    Months in which the customer held nothing are not stored; readers fill them with zero.
    """

    __tablename__ = "customer_month_aum"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    month_end: Mapped[date] = mapped_column(Date, primary_key=True)
    # aum(c, month_end) (SPEC 4.1)
    aum: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    # mean of aum(c, d) over the days of the month up to month_end (月日均)
    aum_avg: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    # Σ bal(a, month_end) over liability accounts
    liability: Mapped[Decimal] = mapped_column(Numeric(18, 2))
