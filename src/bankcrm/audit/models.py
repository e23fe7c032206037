"""The audit log and the head of its hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEvent(Base):
    """One audited action. ``hash`` = SHA-256(prev_hash || canonical JSON of the other columns)."""

    __tablename__ = "audit_events"

    # assigned under the chain-head lock, not by the database, so the chain has no gaps
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    # no foreign key: the log must outlive the user rows it names
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details_json: Mapped[str] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPending(Base):
    """An event recorded but not yet chained: written in the caller's transaction, without a lock.

    The sealer (``service.seal``) moves committed rows into ``audit_events`` in id order under
    the chain-head lock, giving each its sequence number and hashes, and deletes them here.
    """

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details_json: Mapped[str] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row the sealer locks: last sequence and hash, and the anchor left by purges.

    Comparing it with the last event reveals a deleted tail; the anchor (sequence and hash of
    the last purged row) lets verification start mid-chain after old rows were purged.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)
    anchor_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
