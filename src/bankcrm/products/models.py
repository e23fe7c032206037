"""Products and accounts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"

    product_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), index=True)
    risk_level: Mapped[str | None] = mapped_column(String(2))
    term_days: Mapped[int | None] = mapped_column(Integer)
    expected_yield: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    is_agency: Mapped[bool] = mapped_column(Boolean, default=False)
    # keyed hash of the row as last loaded from an extract: an unchanged row is skipped on re-load
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Account(Base):
    __tablename__ = "accounts"
    # Accounts that mature, by customer, with what the customer list's "maturing soon" filter checks:
    # the filter probes it once per customer in scope, and on PostgreSQL finds the answer in the
    # index (an index-only scan) instead of visiting every account of every customer.
    __table_args__ = (
        Index(
            "ix_accounts_maturing",
            "customer_id",
            "maturity_on",
            postgresql_include=["closed_on", "product_id"],
            postgresql_where=text("maturity_on IS NOT NULL"),
            sqlite_where=text("maturity_on IS NOT NULL"),
        ),
    )

    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.customer_id"), index=True)
    product_id: Mapped[str] = mapped_column(String(32), ForeignKey("products.product_id"), index=True)
    opened_on: Mapped[date] = mapped_column(Date)
    maturity_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    next_due_on: Mapped[date | None] = mapped_column(Date)
    amount_due: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    days_past_due: Mapped[int | None] = mapped_column(Integer)
    # the customer-facing account or card number, when the extract carries one (encrypted)
    account_number_enc: Mapped[str | None] = mapped_column(String(200))
    account_number_bidx: Mapped[str | None] = mapped_column(String(40), index=True)
    # keyed hash of the row as last loaded from an extract: an unchanged row is skipped on re-load
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
