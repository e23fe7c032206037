"""Working the items the rules raise: the task list, complete, snooze, reassign, and the marketing reads of rules.

Every read goes through the record scope of ``work_repository.task_scope_filter`` (an item out of
scope is ``NotFound`` exactly like a missing one) and every write is audited:

- **complete** closes the item with an outcome (``service.close_item``, which frees the
  customer-and-rule slot so the rule may raise again after its cooldown) and logs the contact as
  an interaction with purpose ``task``;
- **snooze** hides an open item until a time, with a reason; it wakes (status ``open`` again)
  when a list or page is read after that time, or when ``wake_snoozed`` runs;
- **reassign** moves an item to an RM of the team (team lead) or of the branch (branch manager),
  with a reason, out of the branch queue too.

The task list order is the morning order: urgent first, then overdue, then due later today,
then the rest, each by due time.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, record
from bankcrm.customers.models import Interaction
from bankcrm.interactions import repository as interactions_repo
from bankcrm.interactions.schemas import CHANNELS as INTERACTION_CHANNELS
from bankcrm.interactions.service import INTERACTION_CREATE
from bankcrm.security.auth import Clock, system_clock
from bankcrm.security.permissions import NotFound, Permission, Principal, require
from bankcrm.staff.models import Staff
from bankcrm.tasks import repository as rules_repo
from bankcrm.tasks import service
from bankcrm.tasks import work_repository as repo
from bankcrm.tasks.models import OPEN_STATUSES, Rule, RuleVersion, Task, TaskEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
# what an RM works by hand; automatic messages are sent by the dispatcher and listed only when asked for
WORK_KINDS = ("task", "opportunity")
STATUSES = ("open", "snoozed", "done", "cancelled", "expired")
# the channels a contact is logged with when an item is completed: those of a hand-logged interaction
CONTACT_CHANNELS = INTERACTION_CHANNELS
MAX_PAGE_SIZE = 100
MAX_SNOOZE = timedelta(days=30)
OUTCOME_MAX = 2000
REASON_MAX = 400

TASK_VIEW = "task.view"
TASK_COMPLETE = "task.complete"
TASK_SNOOZE = "task.snooze"
TASK_REASSIGN = "task.reassign"


class TaskError(ValueError):
    """An action on an item that cannot be done as asked (pages answer 400, the API 422)."""


# --- the list ---


@dataclass(frozen=True)
class TaskQuery:
    """What a task list asks for; unknown kinds, statuses or rules simply match nothing."""

    kind: str | None = None  # task, opportunity, message; None: tasks and opportunities
    rule_id: str | None = None
    status: str = "open"  # one of STATUSES, or "all"
    queue: bool = False  # only the branch queue (unassigned items) of the principal's branch
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class TaskCounts:
    open: int = 0
    urgent: int = 0
    overdue: int = 0
    due_today: int = 0


@dataclass(frozen=True)
class TaskRow:
    item: Task
    bucket: str  # urgent, overdue, today, later, snoozed, closed
    rule_name_zh: str | None
    rule_name_en: str | None


@dataclass(frozen=True)
class TaskPage:
    rows: list[TaskRow]
    total: int
    page: int
    page_size: int
    counts: TaskCounts

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def end_of_local_day(now: datetime, tz: ZoneInfo = SHANGHAI) -> datetime:
    """The next local midnight after ``now`` (items due before it are due today)."""
    local = now.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)


def bucket_of(item: Task, now: datetime, end_of_today: datetime) -> str:
    if item.status not in OPEN_STATUSES:
        return "closed"
    if item.status == "snoozed":
        return "snoozed"
    if item.priority == "urgent":
        return "urgent"
    if item.due_at < now:
        return "overdue"
    if item.due_at < end_of_today:
        return "today"
    return "later"


def _event(session: Session, item: Task, at: datetime, actor: str, action: str, detail: dict[str, Any]) -> None:
    rules_repo.add_event(
        session,
        TaskEvent(
            task_id=item.task_id, at=at, actor=actor, action=action, detail_json=json.dumps(detail, ensure_ascii=False)
        ),
    )


def wake_snoozed(session: Session, *, clock: Clock = system_clock) -> list[int]:
    """Snoozed items whose time has passed become open again (run on every read, and callable by the night)."""
    now = clock()
    woken = []
    for item in repo.snoozed_due(session, now):
        item.status = "open"
        until = item.snoozed_until
        item.snoozed_until = None
        detail = {"snoozed_until": until.isoformat() if until else None}
        rules_repo.add_event(
            session,
            TaskEvent(task_id=item.task_id, at=now, actor="system", action="wake", detail_json=json.dumps(detail)),
        )
        woken.append(item.task_id)
    if woken:
        session.flush()
    return woken


def _kinds(kind: str | None) -> tuple[str, ...]:
    return (kind,) if kind else WORK_KINDS


def task_counts(
    session: Session, principal: Principal, *, clock: Clock = system_clock, tz: ZoneInfo = SHANGHAI
) -> TaskCounts:
    """Open items in scope for the header: all, urgent, overdue and due later today."""
    require(principal, Permission.TASK_WORK)
    wake_snoozed(session, clock=clock)
    now = clock()
    counts = repo.count_open(session, principal, WORK_KINDS, now=now, end_of_today=end_of_local_day(now, tz))
    return TaskCounts(**counts)


def list_tasks(
    session: Session, principal: Principal, query: TaskQuery, *, clock: Clock = system_clock, tz: ZoneInfo = SHANGHAI
) -> TaskPage:
    """A page of the principal's items in the morning order, with the header counts."""
    require(principal, Permission.TASK_WORK)
    if query.queue:
        require(principal, Permission.OPPORTUNITY_REASSIGN)
    counts = task_counts(session, principal, clock=clock, tz=tz)
    now = clock()
    end_of_today = end_of_local_day(now, tz)
    statuses = STATUSES if query.status == "all" else (query.status,)
    flt = repo.ItemFilter(
        statuses=statuses,
        kinds=_kinds(query.kind),
        rule_id=query.rule_id or None,
        queue_branch_id=(principal.branch_id or "-") if query.queue else None,
    )
    page_size = min(max(query.page_size, 1), MAX_PAGE_SIZE)
    page = max(query.page, 1)
    items, total = repo.list_items(
        session, principal, flt, now=now, end_of_today=end_of_today, offset=(page - 1) * page_size, limit=page_size
    )
    names = repo.rule_names(session, (i.rule_id for i in items))
    rows = [
        TaskRow(
            item=i,
            bucket=bucket_of(i, now, end_of_today),
            rule_name_zh=names.get(i.rule_id or "", (None, None))[0],
            rule_name_en=names.get(i.rule_id or "", (None, None))[1],
        )
        for i in items
    ]
    return TaskPage(rows=rows, total=total, page=page, page_size=page_size, counts=counts)


# --- one item ---


@dataclass(frozen=True)
class TaskDetail:
    item: Task
    bucket: str
    rule: Rule | None
    facts: dict[str, Any]
    text_zh: str | None
    text_en: str | None
    events: list[tuple[TaskEvent, dict[str, Any]]]
    can_reassign: bool
    candidates: list[Staff] = field(default_factory=list)


class _Facts(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_template(template: str | None, facts: Mapping[str, Any]) -> str | None:
    """The rule's text with the facts that fired it; an unknown placeholder stays as written."""
    if not template:
        return None
    try:
        return string.Formatter().vformat(template, (), _Facts(facts))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def _json(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _in_scope(session: Session, principal: Principal, task_id: int, *, for_update: bool = False) -> Task:
    item = repo.get_item_in_scope(session, principal, task_id, for_update=for_update)
    if item is None:
        raise NotFound("task")
    return item


def can_reassign(principal: Principal) -> bool:
    return principal.can(Permission.OPPORTUNITY_REASSIGN) and principal.role in ("team_lead", "branch_manager")


def reassign_candidates(session: Session, principal: Principal) -> list[Staff]:
    """Who the principal may hand an item to: the team's RMs (team lead) or the branch's (branch manager)."""
    if not can_reassign(principal):
        return []
    if principal.role == "team_lead":
        return list(repo.staff_of(session, team_id=principal.team_id)) if principal.team_id else []
    return list(repo.staff_of(session, branch_id=principal.branch_id)) if principal.branch_id else []


def task_detail(
    session: Session,
    principal: Principal,
    task_id: int,
    *,
    actor: Actor,
    clock: Clock = system_clock,
    tz: ZoneInfo = SHANGHAI,
) -> TaskDetail:
    """One item with its rule, facts and history; audited as ``task.view`` (the facts are customer data)."""
    require(principal, Permission.TASK_WORK)
    wake_snoozed(session, clock=clock)
    item = _in_scope(session, principal, task_id)
    now = clock()
    rule = rules_repo.get_rule(session, item.rule_id) if item.rule_id else None
    facts = _json(item.facts_json)
    record(
        session,
        actor,
        TASK_VIEW,
        target_type="task",
        target_id=str(item.task_id),
        details={"customer_id": item.customer_id},
        clock=clock,
    )
    return TaskDetail(
        item=item,
        bucket=bucket_of(item, now, end_of_local_day(now, tz)),
        rule=rule,
        facts=facts,
        text_zh=fill_template(rule.template_zh if rule else None, facts),
        text_en=fill_template(rule.template_en if rule else None, facts),
        events=[(e, _json(e.detail_json)) for e in repo.item_events(session, item.task_id)],
        can_reassign=can_reassign(principal),
        candidates=reassign_candidates(session, principal),
    )


def _open_item(session: Session, principal: Principal, task_id: int) -> Task:
    item = _in_scope(session, principal, task_id, for_update=True)
    if item.status not in OPEN_STATUSES:
        raise TaskError("This item is closed already")
    return item


def _text(value: str | None, required: str, *, limit: int) -> str:
    text = (value or "").strip()
    if len(text) < 2:
        raise TaskError(required)
    if len(text) > limit:
        raise TaskError("The text is too long")
    return text


def complete_task(
    session: Session,
    principal: Principal,
    task_id: int,
    *,
    outcome: str,
    channel: str,
    actor: Actor,
    clock: Clock = system_clock,
) -> tuple[Task, Interaction]:
    """Close the item as done with its outcome and log the contact (purpose ``task``); both audited."""
    require(principal, Permission.TASK_WORK)
    item = _open_item(session, principal, task_id)
    outcome = _text(outcome, "An outcome is required", limit=OUTCOME_MAX)
    if channel not in CONTACT_CHANNELS:
        raise TaskError("Choose the channel of the contact")
    now = clock()
    service.close_item(session, item, status="done", by=actor.name, outcome=outcome, now=now)
    # written through the interactions repository, with the item's scope instead of the customer's: a
    # team lead works queue items of customers without an RM, an RM items handed over from a colleague
    contact = interactions_repo.add(
        session,
        Interaction(
            customer_id=item.customer_id,
            staff_id=principal.staff_id,
            user_id=principal.user_id,
            channel=channel,
            purpose="task",
            occurred_at=now,
            notes=outcome,
            task_id=item.task_id,
            created_at=now,
        ),
    )
    # the notes stay out of the audit log: they hold whatever the customer said
    record(
        session,
        actor,
        INTERACTION_CREATE,
        target_type="customer",
        target_id=item.customer_id,
        details={
            "interaction_id": contact.id,
            "channel": channel,
            "purpose": "task",
            "occurred_at": now.isoformat(),
            "task_id": item.task_id,
        },
        clock=clock,
    )
    record(
        session,
        actor,
        TASK_COMPLETE,
        target_type="task",
        target_id=str(item.task_id),
        details={
            "customer_id": item.customer_id,
            "rule_id": item.rule_id,
            "kind": item.kind,
            "channel": channel,
            "interaction_id": contact.id,
        },
        clock=clock,
    )
    return item, contact


def snooze_task(
    session: Session,
    principal: Principal,
    task_id: int,
    *,
    until: datetime | None,
    reason: str,
    actor: Actor,
    clock: Clock = system_clock,
) -> Task:
    """Hide an open item until a time (at most 30 days ahead) with a reason; an urgent item only up to its due time."""
    require(principal, Permission.TASK_WORK)
    item = _open_item(session, principal, task_id)
    reason = _text(reason, "A reason is required", limit=REASON_MAX)
    if until is None:
        raise TaskError("Snooze until a time in the future")
    if until.tzinfo is None:
        raise TaskError("The snooze time needs a time zone")
    now = clock()
    if until <= now:
        raise TaskError("Snooze until a time in the future")
    if until > now + MAX_SNOOZE:
        raise TaskError("An item can be snoozed for at most 30 days")
    if item.priority == "urgent" and until > item.due_at:
        raise TaskError("An urgent item cannot be snoozed past its due time")
    item.status = "snoozed"
    item.snoozed_until = until
    detail = {"until": until.isoformat(), "reason": reason}
    rules_repo.add_event(
        session,
        TaskEvent(task_id=item.task_id, at=now, actor=actor.name, action="snooze", detail_json=json.dumps(detail)),
    )
    record(
        session,
        actor,
        TASK_SNOOZE,
        target_type="task",
        target_id=str(item.task_id),
        details={"customer_id": item.customer_id, **detail},
        clock=clock,
    )
    return item


def reassign_task(
    session: Session,
    principal: Principal,
    task_id: int,
    *,
    to_staff_id: str,
    reason: str,
    actor: Actor,
    clock: Clock = system_clock,
) -> Task:
    """Hand an item to an RM of the team (team lead) or the branch (branch manager), with a reason; audited."""
    require(principal, Permission.TASK_WORK)
    require(principal, Permission.OPPORTUNITY_REASSIGN)
    item = _open_item(session, principal, task_id)
    reason = _text(reason, "A reason is required", limit=REASON_MAX)
    allowed = {s.staff_id: s for s in reassign_candidates(session, principal)}
    target = allowed.get(to_staff_id)
    if target is None:
        raise TaskError("Choose an active relationship manager of your team or branch")
    if item.assigned_to == target.staff_id:
        raise TaskError("The item is assigned to this person already")
    before = item.assigned_to or f"branch:{item.queue_branch_id}"
    now = clock()
    item.assigned_to = target.staff_id
    item.queue_branch_id = None
    detail = {"from": before, "to": target.staff_id, "reason": reason}
    _event(session, item, now, actor.name, "reassign", detail)
    record(
        session,
        actor,
        TASK_REASSIGN,
        target_type="task",
        target_id=str(item.task_id),
        details={"customer_id": item.customer_id, **detail},
        clock=clock,
    )
    return item


# --- rules, for the marketing pages (rule.write reads and writes them) ---


def rule_choices(session: Session) -> list[tuple[str, str, str]]:
    """(rule_id, Chinese name, English name) of every rule, for the task list's rule filter."""
    return [(r.rule_id, r.name_zh, r.name_en) for r in rules_repo.list_rules(session)]


def rules_for(session: Session, principal: Principal) -> Sequence[Rule]:
    require(principal, Permission.RULE_WRITE)
    return service.list_rules(session)


def rule_for(session: Session, principal: Principal, rule_id: str) -> tuple[Rule, Sequence[RuleVersion]]:
    """A rule with its saved versions, oldest first."""
    require(principal, Permission.RULE_WRITE)
    service.ensure_default_rules(session)
    rule = service.get_rule(session, rule_id)
    return rule, rules_repo.rule_versions(session, rule_id)
