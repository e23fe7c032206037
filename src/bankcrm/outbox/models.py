"""The message outbox: one row per automatic message, and one row per delivery attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime, utcnow

# pending: waiting for next_attempt_at · sending: handed to a gateway, result not yet recorded ·
# sent · failed: the last attempt failed, retried at next_attempt_at · blocked: the contact policy
# refused it · dead: gave up after the maximum number of attempts
MESSAGE_STATUSES = ("pending", "sending", "sent", "failed", "blocked", "dead")
CLAIMABLE_STATUSES = ("pending", "failed")
TOUCH_STATUSES = ("sending", "sent")


class OutboxMessage(Base):
    """An automatic message on its way to a customer; the recipient is resolved only when it is sent."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_outbox_messages_customer_touch", "customer_id", "marketing", "touched_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.customer_id"))
    task_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("tasks.task_id"), index=True)
    rule_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(20))  # sms, email, wechat
    # service, care or marketing; care and marketing both follow the marketing rules (marketing=True)
    message_class: Mapped[str] = mapped_column(String(20))
    marketing: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # a marketing message still unsent at this time is blocked instead of deferred again
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # passed to the gateway on every attempt: the gateway (or its journal) recognises a repeat
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    gateway_message_id: Mapped[str | None] = mapped_column(String(200))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # when the message became a contact touch (set on 'sending', kept on 'sent'): the caps count it
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryAttempt(Base):
    """One hand-over of a message to a gateway, or the reconciliation of one a killed dispatcher left."""

    __tablename__ = "outbox_delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(Integer, ForeignKey("outbox_messages.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    recipient_masked: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # sending (unfinished), sent, reconciled, failed, dead
    outcome: Mapped[str] = mapped_column(String(20))
    gateway_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
