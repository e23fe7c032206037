"""JSON shapes of the task and rule API: work items with their history, actions on them, rules and previews."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bankcrm.tasks.models import Rule, RuleVersion, Task
from bankcrm.tasks.service import rule_definition
from bankcrm.tasks.work_service import OUTCOME_MAX, REASON_MAX, TaskCounts, TaskDetail, TaskPage

ContactChannel = Literal["visit", "call", "wecom", "sms", "email"]


def _facts(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


class TaskRead(BaseModel):
    """A work item: an RM task, an opportunity or an automatic message. Times are ISO 8601 with offset."""

    task_id: int
    customer_id: str
    rule_id: str | None
    rule_version: int | None
    kind: str = Field(description="task, opportunity or message")
    priority: str = Field(description="urgent, high, normal or low")
    status: str = Field(description="open, snoozed, done, cancelled or expired")
    bucket: str | None = Field(
        default=None, description="where it sorts: urgent, overdue, today, later, snoozed or closed"
    )
    channel: str | None
    product_category: str | None
    facts: dict[str, Any] = Field(description="the facts that fired the rule")
    created_at: datetime
    due_at: datetime
    assigned_to: str | None = Field(description="the RM's staff id; null while in the branch queue")
    queue_branch_id: str | None
    escalated_at: datetime | None
    escalated_to: str | None
    snoozed_until: datetime | None
    closed_at: datetime | None
    outcome: str | None

    @classmethod
    def of(cls, item: Task, bucket: str | None = None) -> TaskRead:
        return cls(
            task_id=item.task_id,
            customer_id=item.customer_id,
            rule_id=item.rule_id,
            rule_version=item.rule_version,
            kind=item.kind,
            priority=item.priority,
            status=item.status,
            bucket=bucket,
            channel=item.channel,
            product_category=item.product_category,
            facts=_facts(item.facts_json),
            created_at=item.created_at,
            due_at=item.due_at,
            assigned_to=item.assigned_to,
            queue_branch_id=item.queue_branch_id,
            escalated_at=item.escalated_at,
            escalated_to=item.escalated_to,
            snoozed_until=item.snoozed_until,
            closed_at=item.closed_at,
            outcome=item.outcome,
        )


class TaskCountsRead(BaseModel):
    """Open items in scope (snoozed ones not counted)."""

    open: int
    urgent: int
    overdue: int
    due_today: int = Field(description="due later today (Asia/Shanghai), not yet overdue")

    @classmethod
    def of(cls, counts: TaskCounts) -> TaskCountsRead:
        return cls(open=counts.open, urgent=counts.urgent, overdue=counts.overdue, due_today=counts.due_today)


class TaskListItem(TaskRead):
    rule_name_zh: str | None
    rule_name_en: str | None


class TaskListPage(BaseModel):
    items: list[TaskListItem]
    total: int
    page: int
    page_size: int
    counts: TaskCountsRead

    @classmethod
    def of(cls, page: TaskPage) -> TaskListPage:
        items = [
            TaskListItem(
                **TaskRead.of(r.item, r.bucket).model_dump(), rule_name_zh=r.rule_name_zh, rule_name_en=r.rule_name_en
            )
            for r in page.rows
        ]
        return cls(
            items=items,
            total=page.total,
            page=page.page,
            page_size=page.page_size,
            counts=TaskCountsRead.of(page.counts),
        )


class TaskEventRead(BaseModel):
    at: datetime
    actor: str
    action: str = Field(description="escalate, snooze, wake, reassign, done, cancelled, expired …")
    detail: dict[str, Any]


class TaskDetailRead(BaseModel):
    task: TaskRead
    rule_name_zh: str | None
    rule_name_en: str | None
    text_zh: str | None = Field(description="the rule's text filled with the facts")
    text_en: str | None
    events: list[TaskEventRead]

    @classmethod
    def of(cls, view: TaskDetail) -> TaskDetailRead:
        return cls(
            task=TaskRead.of(view.item, view.bucket),
            rule_name_zh=view.rule.name_zh if view.rule else None,
            rule_name_en=view.rule.name_en if view.rule else None,
            text_zh=view.text_zh,
            text_en=view.text_en,
            events=[TaskEventRead(at=e.at, actor=e.actor, action=e.action, detail=d) for e, d in view.events],
        )


class CompleteRequest(BaseModel):
    outcome: str = Field(max_length=OUTCOME_MAX, description="what was done and agreed (required, 2+ characters)")
    channel: ContactChannel = Field(description="how the customer was contacted; logged as an interaction")


class CompleteResponse(BaseModel):
    task: TaskRead
    interaction_id: int


class SnoozeRequest(BaseModel):
    until: AwareDatetime = Field(description="when the item comes back (at most 30 days ahead)")
    reason: str = Field(max_length=REASON_MAX, description="why it waits (required, 2+ characters)")


class ReassignRequest(BaseModel):
    to_staff_id: str = Field(
        max_length=32, description="an active RM or team lead of your team (of your branch for a branch manager)"
    )
    reason: str = Field(max_length=REASON_MAX, description="why it moves (required, 2+ characters)")


# --- rules ---


class TierAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    channel: str | None = None


class RuleRead(BaseModel):
    """A rule as stored (SPEC 5.3/5.4 defaults and analysts' own)."""

    model_config = ConfigDict(extra="ignore")

    rule_id: str
    version: int
    category: str
    name_zh: str
    name_en: str
    condition: str = Field(description="a checked SQL boolean expression over the rule table")
    action: str
    tier_actions: dict[str, dict[str, Any]]
    product_category: str | None
    offer: str | None
    priority: str
    sla_hours: int
    sla_working_days: int | None
    escalates: bool
    marketing: bool
    cooldown_days: int
    template_zh: str
    template_en: str
    enabled: bool
    is_default: bool
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def of(cls, rule: Rule) -> RuleRead:
        return cls.model_validate(
            {
                **rule_definition(rule),
                "is_default": rule.is_default,
                "updated_at": rule.updated_at,
                "updated_by": rule.updated_by,
            }
        )


class RuleVersionRead(BaseModel):
    version: int
    change: str = Field(description="create, update, enable, disable or reset")
    changed_at: datetime
    changed_by: str | None
    rule: dict[str, Any] = Field(description="the rule as saved in this version")

    @classmethod
    def of(cls, version: RuleVersion) -> RuleVersionRead:
        return cls(
            version=version.version,
            change=version.change,
            changed_at=version.changed_at,
            changed_by=version.changed_by,
            rule=_facts(version.snapshot_json),
        )


class RuleDetailRead(BaseModel):
    rule: RuleRead
    versions: list[RuleVersionRead]


class RuleCreate(BaseModel):
    """A new rule; it starts disabled unless ``enabled`` is true, so it can be previewed first."""

    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(max_length=64)
    category: str = "custom"
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    condition: str = Field(max_length=4000)
    action: str = Field(description="task, opportunity or message")
    tier_actions: dict[str, TierAction] = Field(default_factory=dict)
    product_category: str | None = None
    offer: str | None = Field(default=None, max_length=200)
    priority: str = "normal"
    sla_hours: int = 72
    sla_working_days: int | None = None
    escalates: bool = False
    marketing: bool = False
    cooldown_days: int = 0
    template_zh: str = Field(max_length=4000)
    template_en: str = Field(max_length=4000)
    enabled: bool = False

    def as_data(self) -> dict[str, Any]:
        data = self.model_dump()
        data["tier_actions"] = {t: a.model_dump(exclude_none=True) for t, a in self.tier_actions.items()}
        return data


class RuleUpdate(BaseModel):
    """The fields to change; every saved change makes a new version."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    name_zh: str | None = Field(default=None, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    condition: str | None = Field(default=None, max_length=4000)
    action: str | None = None
    tier_actions: dict[str, TierAction] | None = None
    product_category: str | None = None
    offer: str | None = Field(default=None, max_length=200)
    priority: str | None = None
    sla_hours: int | None = None
    sla_working_days: int | None = None
    escalates: bool | None = None
    marketing: bool | None = None
    cooldown_days: int | None = None
    template_zh: str | None = Field(default=None, max_length=4000)
    template_en: str | None = Field(default=None, max_length=4000)

    def as_changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True)
        if self.tier_actions is not None:
            changes["tier_actions"] = {t: a.model_dump(exclude_none=True) for t, a in self.tier_actions.items()}
        return changes


class PreviewRequest(BaseModel):
    condition: str = Field(max_length=4000)
    sample: int = Field(default=20, ge=1, le=100)


class PreviewRead(BaseModel):
    """Customers of the current run a condition hits: ids, tier, segment and the facts it reads — no names."""

    run_id: int
    as_of: date | None
    customers: int = Field(description="customers in the run")
    hits: int = Field(description="customers the condition is true for")
    sample: list[dict[str, Any]]
