"""Branches, teams and staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime, utcnow


class Branch(Base):
    __tablename__ = "branches"

    branch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    parent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("branches.branch_id"), index=True)
    # keyed hash of the row as last loaded from an extract: an unchanged row is skipped on re-load
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Team(Base):
    __tablename__ = "teams"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    branch_id: Mapped[str] = mapped_column(String(32), ForeignKey("branches.branch_id"), index=True)
    lead_staff_id: Mapped[str | None] = mapped_column(String(32))


class Staff(Base):
    __tablename__ = "staff"

    staff_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), index=True)
    branch_id: Mapped[str] = mapped_column(String(32), ForeignKey("branches.branch_id"), index=True)
    team_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("teams.team_id"), index=True)
    level: Mapped[str | None] = mapped_column(String(20))
    # product categories the manager is qualified for, ';'-separated as in the extract
    skills: Mapped[str | None] = mapped_column(String(400))
    # how many customers the manager can look after; None means the branch default
    capacity: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # keyed hash of the row as last loaded from an extract: an unchanged row is skipped on re-load
    source_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
