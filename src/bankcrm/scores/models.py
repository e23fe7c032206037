"""Nightly runs and what they publish."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime, utcnow

# Published analytic figures are averages and ratios, not ledger amounts: they keep full
# float precision so that exports match the definitions exactly (ledger money stays Decimal).


class NightlyRun(Base):
    """One nightly run: its as_of, configuration snapshot, step timings and status."""

    __tablename__ = "nightly_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)
    engine: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running, published, failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    config_json: Mapped[str] = mapped_column(Text)
    timings_json: Mapped[str | None] = mapped_column(Text)
    summary_json: Mapped[str | None] = mapped_column(Text)
    segment_model_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class AppState(Base):
    """Small named values that must change atomically, e.g. the current published run."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AppSetting(Base):
    """Configuration stored in the database (defaults live in code), validated on write."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


# the score columns a customer list row shows, filters on and sorts by, in the row's order: publishing
# a run copies exactly these onto the customers (customers.models, "published_" + name), where the
# list reads them
LIST_COLUMN_NAMES = ("tier", "segment", "value_class", "aum_avg_30d", "value_index")


class CustomerScore(Base):
    """Every published per-customer output of one run (kept for the last few runs)."""

    __tablename__ = "customer_scores"
    __table_args__ = (Index("ix_customer_scores_customer_run", "customer_id", "run_id"),)

    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("nightly_runs.id"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    aum_avg_30d: Mapped[float | None] = mapped_column(Float)
    aum_avg_90d: Mapped[float | None] = mapped_column(Float)
    aum_avg_180d: Mapped[float | None] = mapped_column(Float)
    aum_growth_6m: Mapped[float | None] = mapped_column(Float)
    liability_balance: Mapped[float | None] = mapped_column(Float)
    tx_count_90d: Mapped[int | None] = mapped_column(Integer)
    tx_amount_90d: Mapped[float | None] = mapped_column(Float)
    tx_volume_growth_6m: Mapped[float | None] = mapped_column(Float)
    mobile_share_90d: Mapped[float | None] = mapped_column(Float)
    counter_share_90d: Mapped[float | None] = mapped_column(Float)
    last_tx_date: Mapped[date | None] = mapped_column(Date)
    recency_days: Mapped[int | None] = mapped_column(Integer)
    active_months_6m: Mapped[int | None] = mapped_column(Integer)
    payroll_months_3m: Mapped[int | None] = mapped_column(Integer)
    product_count: Mapped[int | None] = mapped_column(Integer)
    age: Mapped[int | None] = mapped_column(Integer)
    tenure_years: Mapped[float | None] = mapped_column(Float)
    revenue_annual: Mapped[float | None] = mapped_column(Float)
    cost_annual: Mapped[float | None] = mapped_column(Float)
    net_contribution: Mapped[float | None] = mapped_column(Float)
    value_class: Mapped[str | None] = mapped_column(String(16))
    tier_raw: Mapped[str | None] = mapped_column(String(12))
    tier: Mapped[str | None] = mapped_column(String(12))
    segment: Mapped[str | None] = mapped_column(String(1))
    current_value: Mapped[float | None] = mapped_column(Float)
    potential_value: Mapped[float | None] = mapped_column(Float)
    value_index: Mapped[float | None] = mapped_column(Float)
    clv_historical: Mapped[float | None] = mapped_column(Float)
    clv_current: Mapped[float | None] = mapped_column(Float)
    clv_potential: Mapped[float | None] = mapped_column(Float)
    p_alive: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[str | None] = mapped_column(String(400))


class TierHistory(Base):
    """Tier of every customer at every run, kept for all runs (migration matrices, hysteresis)."""

    __tablename__ = "tier_history"
    __table_args__ = (Index("ix_tier_history_customer_run", "customer_id", "run_id"),)

    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("nightly_runs.id"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    tier_raw: Mapped[str] = mapped_column(String(12))
    tier: Mapped[str] = mapped_column(String(12))
