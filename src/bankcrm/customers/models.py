"""Customers, their marketing-consent history and versioned contact details."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime, utcnow
from bankcrm.scores.models import LIST_COLUMN_NAMES

# the current run's scores a customer list row shows, filters on and sorts by, kept on the customer
# (scores.models.LIST_COLUMN_NAMES, each prefixed "published_")
PUBLISHED_COLUMN_NAMES = tuple(f"published_{name}" for name in LIST_COLUMN_NAMES)


class Customer(Base):
    __tablename__ = "customers"
    # An RM's (or a branch's) customers with the list's columns straight from one index: on
    # PostgreSQL the index includes the published scores, so a list page, its filters and its total
    # come from an index-only scan of a few pages, and only the page's own rows are then read.
    __table_args__ = (
        Index(
            "ix_customers_rm_id_customer_id",
            "rm_id",
            "customer_id",
            postgresql_include=list(PUBLISHED_COLUMN_NAMES),
        ),
        Index("ix_customers_branch_id", "branch_id", "customer_id", postgresql_include=list(PUBLISHED_COLUMN_NAMES)),
    )

    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_type: Mapped[str] = mapped_column(String(12), default="personal")
    name: Mapped[str] = mapped_column(String(100), index=True)
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    # sensitive (C2) fields: AES-GCM ciphertext plus a keyed-hash blind index for exact lookup
    id_number_enc: Mapped[str] = mapped_column(String(200))
    id_number_bidx: Mapped[str] = mapped_column(String(40), index=True)
    phone_enc: Mapped[str] = mapped_column(String(200))
    phone_bidx: Mapped[str] = mapped_column(String(40), index=True)
    address_enc: Mapped[str | None] = mapped_column(Text)
    email_enc: Mapped[str | None] = mapped_column(String(400))
    city: Mapped[str | None] = mapped_column(String(100))
    occupation: Mapped[str | None] = mapped_column(String(32))
    income_monthly: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    onboard_date: Mapped[date] = mapped_column(Date)
    branch_id: Mapped[str] = mapped_column(String(32), ForeignKey("branches.branch_id"))
    rm_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("staff.staff_id"))
    # the RM the last extract named: a reassignment in bankcrm stands until the extract itself changes it
    extract_rm_id: Mapped[str | None] = mapped_column(String(32))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_level: Mapped[str | None] = mapped_column(String(2))
    risk_assessed_on: Mapped[date | None] = mapped_column(Date)
    contact_version: Mapped[int] = mapped_column(Integer, default=1)
    # keyed hash of the row as last loaded from an extract: an unchanged row is skipped on re-load
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # keyed hash of phone, address, email, occupation and income: a change starts a new contact version
    contact_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The current published run's list scores, copied from customer_scores in the transaction that
    # publishes the run (scores.repository.publish_run) and None for a customer the run did not
    # score. Kept here, beside rm_id and branch_id, so that the record scope and the list's sort and
    # filters are in one index: joining every customer in scope to the score table cost the list a
    # score-index probe per customer. Nothing else writes them.
    published_tier: Mapped[str | None] = mapped_column(String(12))
    published_segment: Mapped[str | None] = mapped_column(String(1))
    published_value_class: Mapped[str | None] = mapped_column(String(16))
    published_aum_avg_30d: Mapped[float | None] = mapped_column(Float)
    published_value_index: Mapped[float | None] = mapped_column(Float)


class ConsentEvent(Base):
    """Every grant or withdrawal of marketing consent, with when and through which channel."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.customer_id"), index=True)
    consent: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(20))  # extract, branch, app, sms, phone, wecom, web
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(400))


class ContactVersion(Base):
    """One version of a customer's contact details; version 1 is the first load."""

    __tablename__ = "contact_versions"
    __table_args__ = (UniqueConstraint("customer_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.customer_id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    phone_enc: Mapped[str | None] = mapped_column(String(200))
    address_enc: Mapped[str | None] = mapped_column(Text)
    email_enc: Mapped[str | None] = mapped_column(String(400))
    occupation: Mapped[str | None] = mapped_column(String(32))
    income_monthly: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(64))  # staff id, or None for an extract
    source: Mapped[str] = mapped_column(String(20))  # extract or staff
    reason: Mapped[str | None] = mapped_column(String(400))


class Interaction(Base):
    """A logged contact with a customer: visit, call, WeCom, SMS …, with notes and the next step."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.customer_id"), index=True)
    staff_id: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))  # visit, call, wecom, sms, email, app, branch_event
    # care, review, service, marketing, survey, task — cadence counts review/care/marketing contacts
    purpose: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(String(400))
    next_step_on: Mapped[date | None] = mapped_column(Date)
    task_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerAssignment(Base):
    """A change of a customer's relationship manager, with who did it and why."""

    __tablename__ = "customer_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.customer_id"), index=True)
    from_rm_id: Mapped[str | None] = mapped_column(String(32))
    to_rm_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(400))
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
