"""Task and rule JSON API: the task list in the morning order, one item, complete/snooze/reassign; rules, previews."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from bankcrm.tasks import service, work_service
from bankcrm.tasks.schemas import (
    CompleteRequest,
    CompleteResponse,
    PreviewRead,
    PreviewRequest,
    ReassignRequest,
    RuleCreate,
    RuleDetailRead,
    RuleRead,
    RuleUpdate,
    RuleVersionRead,
    SnoozeRequest,
    TaskCountsRead,
    TaskDetailRead,
    TaskListPage,
    TaskRead,
)
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, RowId, Runtime, Tr

router = APIRouter(prefix="/tasks", tags=["tasks"])
rules_router = APIRouter(prefix="/rules", tags=["rules"])


def _refused(exc: ValueError) -> HTTPException:
    return HTTPException(status_code=422, detail=str(exc))


@router.get("", response_model=TaskListPage)
def list_tasks(
    db: DbSession,
    runtime: Runtime,
    tr: Tr,
    principal: CurrentPrincipal,
    kind: Literal["task", "opportunity", "message"] | None = None,
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Literal["open", "snoozed", "done", "cancelled", "expired", "all"] = "open",
    queue: Annotated[bool, Query(description="only the unassigned items of your branch's queue")] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=work_service.MAX_PAGE_SIZE)] = 20,
) -> TaskListPage:
    """Your items (record scope): urgent first, then overdue, then due today, then the rest; with the counts."""
    query = work_service.TaskQuery(kind, rule_id, status, queue, page, page_size)
    return TaskListPage.of(work_service.list_tasks(db, principal, query, clock=runtime.clock, tz=tr.tz))


@router.get("/counts", response_model=TaskCountsRead)
def counts(db: DbSession, runtime: Runtime, tr: Tr, principal: CurrentPrincipal) -> TaskCountsRead:
    """Open items in scope: all, urgent, overdue, due later today."""
    return TaskCountsRead.of(work_service.task_counts(db, principal, clock=runtime.clock, tz=tr.tz))


@router.get("/{task_id}", response_model=TaskDetailRead)
def get_task(
    task_id: RowId, db: DbSession, runtime: Runtime, tr: Tr, principal: CurrentPrincipal, actor: RequestActor
) -> TaskDetailRead:
    """One item with its facts and history; 404 when missing or out of scope; audited."""
    view = work_service.task_detail(db, principal, task_id, actor=actor, clock=runtime.clock, tz=tr.tz)
    return TaskDetailRead.of(view)


@router.post("/{task_id}/complete", response_model=CompleteResponse)
def complete(
    task_id: RowId,
    body: CompleteRequest,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> CompleteResponse:
    """Close the item as done with its outcome; the contact is logged as an interaction (purpose ``task``)."""
    try:
        item, contact = work_service.complete_task(
            db, principal, task_id, outcome=body.outcome, channel=body.channel, actor=actor, clock=runtime.clock
        )
    except work_service.TaskError as exc:
        raise _refused(exc) from exc
    return CompleteResponse(task=TaskRead.of(item, "closed"), interaction_id=contact.id)


@router.post("/{task_id}/snooze", response_model=TaskRead)
def snooze(
    task_id: RowId,
    body: SnoozeRequest,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> TaskRead:
    """Hide the item until a time, with a reason; it comes back as open when the time has passed."""
    try:
        item = work_service.snooze_task(
            db, principal, task_id, until=body.until, reason=body.reason, actor=actor, clock=runtime.clock
        )
    except work_service.TaskError as exc:
        raise _refused(exc) from exc
    return TaskRead.of(item, "snoozed")


@router.post("/{task_id}/reassign", response_model=TaskRead)
def reassign(
    task_id: RowId,
    body: ReassignRequest,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> TaskRead:
    """Hand the item to an RM of your team (team lead) or branch (branch manager), with a reason."""
    try:
        item = work_service.reassign_task(
            db, principal, task_id, to_staff_id=body.to_staff_id, reason=body.reason, actor=actor, clock=runtime.clock
        )
    except work_service.TaskError as exc:
        raise _refused(exc) from exc
    return TaskRead.of(item)


# --- rules (rule.write: the marketing role) ---


@rules_router.get("", response_model=list[RuleRead])
def list_rules(db: DbSession, principal: CurrentPrincipal) -> list[RuleRead]:
    """Every rule, enabled or not."""
    return [RuleRead.of(r) for r in work_service.rules_for(db, principal)]


@rules_router.post("", response_model=RuleRead, status_code=201)
def create_rule(body: RuleCreate, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> RuleRead:
    """Add a rule (disabled unless asked otherwise); a refused condition says where (422)."""
    try:
        rule = service.create_rule(db, body.as_data(), actor=actor, principal=principal)
    except service.RuleError as exc:
        raise _refused(exc) from exc
    return RuleRead.of(rule)


@rules_router.post("/preview", response_model=PreviewRead)
def preview(body: PreviewRequest, db: DbSession, runtime: Runtime, principal: CurrentPrincipal) -> PreviewRead:
    """Count and sample the current run's customers a condition hits (ids, tier, segment, facts; nothing saved)."""
    try:
        result = service.preview(db, runtime.settings.lake_dir, body.condition, sample=body.sample, principal=principal)
    except service.RuleError as exc:
        raise _refused(exc) from exc
    return PreviewRead.model_validate(result)


@rules_router.get("/{rule_id}", response_model=RuleDetailRead)
def get_rule(rule_id: str, db: DbSession, principal: CurrentPrincipal) -> RuleDetailRead:
    """The rule and every saved version."""
    rule, versions = work_service.rule_for(db, principal, rule_id)
    return RuleDetailRead(rule=RuleRead.of(rule), versions=[RuleVersionRead.of(v) for v in versions])


@rules_router.patch("/{rule_id}", response_model=RuleRead)
def update_rule(
    rule_id: str, body: RuleUpdate, db: DbSession, principal: CurrentPrincipal, actor: RequestActor
) -> RuleRead:
    """Change fields of a rule: checked as a whole, saved as a new version, audited with before and after."""
    changes = body.as_changes()
    if not changes:
        raise HTTPException(status_code=422, detail="nothing to change")
    try:
        rule = service.update_rule(db, rule_id, changes, actor=actor, principal=principal)
    except service.RuleError as exc:
        raise _refused(exc) from exc
    return RuleRead.of(rule)


@rules_router.post("/{rule_id}/enable", response_model=RuleRead)
def enable(rule_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> RuleRead:
    return RuleRead.of(_set_enabled(db, principal, actor, rule_id, True))


@rules_router.post("/{rule_id}/disable", response_model=RuleRead)
def disable(rule_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> RuleRead:
    return RuleRead.of(_set_enabled(db, principal, actor, rule_id, False))


def _set_enabled(
    db: DbSession, principal: CurrentPrincipal, actor: RequestActor, rule_id: str, enabled: bool
) -> service.Rule:
    try:
        return service.set_enabled(db, rule_id, enabled, actor=actor, principal=principal)
    except service.RuleError as exc:
        raise _refused(exc) from exc
