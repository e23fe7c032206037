"""Rules (SPEC 5.3/5.4 and analysts' own), the work items they raise, and what happened to those items.

One ``tasks`` table holds every work item a rule raises: RM tasks, opportunities and automatic
messages (``kind``), so the morning list, the export and the one-open-item rule see them together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bankcrm.db.base import Base, UTCDateTime, utcnow


class Rule(Base):
    """A maintenance rule: a checked SQL condition over the nightly feature table and what it raises."""

    __tablename__ = "rules"

    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    category: Mapped[str] = mapped_column(String(20))  # event, need, custom, cadence
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    condition: Mapped[str] = mapped_column(Text)
    # task, opportunity or message; tier_actions_json may override kind and channel per tier
    action: Mapped[str] = mapped_column(String(20))
    tier_actions_json: Mapped[str] = mapped_column(Text, default="{}")
    product_category: Mapped[str | None] = mapped_column(String(32))
    offer: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(10))  # urgent, high, normal, low
    sla_hours: Mapped[int] = mapped_column(Integer)
    # when set, the due time counts working days (Monday–Friday) instead of hours
    sla_working_days: Mapped[int | None] = mapped_column(Integer)
    escalates: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    # days after an item is closed before the same rule may raise another for the customer
    cooldown_days: Mapped[int] = mapped_column(Integer, default=0)
    # contact plans (category "cadence", SPEC 5.1): contact every N days; interactions with one of
    # these purposes (space-separated) count as the contact
    every_days: Mapped[int | None] = mapped_column(Integer)
    contact_purposes: Mapped[str | None] = mapped_column(String(200))
    template_zh: Mapped[str] = mapped_column(Text)
    template_en: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class RuleVersion(Base):
    """Every saved version of a rule, so a task can always show the rule that raised it."""

    __tablename__ = "rule_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(64), ForeignKey("rules.rule_id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot_json: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(String(20))  # create, update, enable, disable, reset
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(64))


OPEN_STATUSES = ("open", "snoozed")


class Task(Base):
    """A work item: an RM task, an opportunity or an automatic message, raised by a rule or by a person."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_assigned_status_due", "assigned_to", "status", "due_at"),
        Index("ix_tasks_customer_rule", "customer_id", "rule_id"),
    )

    task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(32), ForeignKey("customers.customer_id"))
    rule_id: Mapped[str | None] = mapped_column(String(64))
    rule_version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # task, opportunity, message
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, snoozed, done, cancelled, expired
    channel: Mapped[str | None] = mapped_column(String(20))
    marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    product_category: Mapped[str | None] = mapped_column(String(32))
    # the facts that fired the rule (amounts, accounts, dates), shown to the RM
    facts_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # the customer's RM, or null with queue_branch_id set: the branch queue team leads work
    assigned_to: Mapped[str | None] = mapped_column(String(32))
    queue_branch_id: Mapped[str | None] = mapped_column(String(32), index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_to: Mapped[str | None] = mapped_column(String(32))
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(Text)
    # "customer_id|rule_id" while the item is open, null once closed: a unique index keeps one open item
    open_key: Mapped[str | None] = mapped_column(String(100), unique=True)


class TaskRunHit(Base):
    """A run whose rule evaluation raised or re-confirmed an open item (the run's task list)."""

    __tablename__ = "task_run_hits"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # no foreign key: the tasks step writes millions of these from ids it has just read or written,
    # and checking each against tasks made that 2.8 times slower (migration 0011)
    task_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TaskEvent(Base):
    """The history of an item: created, snoozed, reassigned, escalated, completed."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(Integer, ForeignKey("tasks.task_id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    detail_json: Mapped[str] = mapped_column(Text, default="{}")
