"""Load runs and the reject store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime, utcnow


class IngestLoad(Base):
    __tablename__ = "ingest_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bundle_dir: Mapped[str] = mapped_column(String(1000))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="running")  # running, loaded, failed
    report_json: Mapped[str | None] = mapped_column(Text)


class IngestReject(Base):
    """A rejected extract row, kept with its file, line number and reason (raw row encrypted)."""

    __tablename__ = "ingest_rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[int] = mapped_column(Integer, ForeignKey("ingest_loads.id"), index=True)
    file: Mapped[str] = mapped_column(String(200))
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40), index=True)
    field: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(400))
    raw_enc: Mapped[str | None] = mapped_column(Text)
