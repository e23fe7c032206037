"""Task pages (the RM's list, one item with complete/snooze/reassign, the branch queue) and the marketing rule pages."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from bankcrm.reference import PRODUCT_CATEGORIES
from bankcrm.security.permissions import Permission, Principal, require
from bankcrm.tasks import service, work_service
from bankcrm.web.deps import CurrentPrincipal, DbSession, RequestActor, RowId, Runtime, Tr
from bankcrm.web.i18n import Translator
from bankcrm.web.templating import render

router = APIRouter(include_in_schema=False)


# --- tasks ---


def _list_page(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    tr: Translator,
    principal: Principal,
    query: work_service.TaskQuery,
    *,
    base_url: str,
    template: str,
) -> Response:
    result = work_service.list_tasks(db, principal, query, clock=runtime.clock, tz=tr.tz)
    filters = {"kind": query.kind, "rule_id": query.rule_id, "status": query.status}
    filters = {k: v for k, v in filters.items() if v and not (k == "status" and v == "open")}

    def page_url(n: int) -> str:
        return base_url + "?" + urlencode({**filters, "page": n})

    return render(
        request,
        template,
        {
            "result": result,
            "query": query,
            "page_url": page_url,
            "kinds": service.KINDS,
            "statuses": work_service.STATUSES,
            "rules": work_service.rule_choices(db),
        },
        principal=principal,
    )


@router.get("/tasks", name="task_list")
def task_list(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    tr: Tr,
    principal: CurrentPrincipal,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str, Query(max_length=20)] = "open",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """My items in the morning order, with filters (kind, rule, status) and pages."""
    query = work_service.TaskQuery(kind or None, rule_id or None, status or "open", False, max(page, 1))
    return _list_page(request, db, runtime, tr, principal, query, base_url="/tasks", template="tasks/list.html")


@router.get("/tasks/queue", name="task_queue")
def task_queue(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    tr: Tr,
    principal: CurrentPrincipal,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The branch queue: items of customers without an RM, for team leads and branch managers to hand out."""
    query = work_service.TaskQuery(kind or None, rule_id or None, "open", True, max(page, 1))
    return _list_page(request, db, runtime, tr, principal, query, base_url="/tasks/queue", template="tasks/queue.html")


def _detail_page(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    tr: Translator,
    principal: Principal,
    actor: RequestActor,
    task_id: RowId,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    view = work_service.task_detail(db, principal, task_id, actor=actor, clock=runtime.clock, tz=tr.tz)
    tomorrow = runtime.clock().astimezone(tr.tz).date() + timedelta(days=1)
    return render(
        request,
        "tasks/detail.html",
        {
            "view": view,
            "t": view.item,
            "error": tr(error) if error else None,
            "form": form or {},
            "channels": work_service.CONTACT_CHANNELS,
            "snooze_default": datetime.combine(tomorrow, time(9, 0)).strftime("%Y-%m-%dT%H:%M"),
        },
        principal=principal,
        status_code=400 if error else 200,
    )


@router.get("/tasks/{task_id}", name="task_detail")
def task_detail(
    request: Request,
    task_id: RowId,
    db: DbSession,
    runtime: Runtime,
    tr: Tr,
    principal: CurrentPrincipal,
    actor: RequestActor,
) -> Response:
    return _detail_page(request, db, runtime, tr, principal, actor, task_id)


@router.post("/tasks/{task_id}/complete", name="task_complete")
def task_complete(
    request: Request,
    task_id: RowId,
    db: DbSession,
    runtime: Runtime,
    tr: Tr,
    principal: CurrentPrincipal,
    actor: RequestActor,
    outcome: Annotated[str, Form(max_length=work_service.OUTCOME_MAX)] = "",
    channel: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        work_service.complete_task(
            db, principal, task_id, outcome=outcome, channel=channel, actor=actor, clock=runtime.clock
        )
    except work_service.TaskError as exc:
        form = {"outcome": outcome, "channel": channel}
        return _detail_page(request, db, runtime, tr, principal, actor, task_id, error=str(exc), form=form)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


def _local_time(value: str, tr: Translator) -> datetime | None:
    """A ``datetime-local`` field (no zone) read in the bank's time zone."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tr.tz)


@router.post("/tasks/{task_id}/snooze", name="task_snooze")
def task_snooze(
    request: Request,
    task_id: RowId,
    db: DbSession,
    runtime: Runtime,
    tr: Tr,
    principal: CurrentPrincipal,
    actor: RequestActor,
    until: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=work_service.REASON_MAX)] = "",
) -> Response:
    form = {"until": until, "snooze_reason": reason}
    when = _local_time(until, tr)
    try:
        work_service.snooze_task(db, principal, task_id, until=when, reason=reason, actor=actor, clock=runtime.clock)
    except work_service.TaskError as exc:
        return _detail_page(request, db, runtime, tr, principal, actor, task_id, error=str(exc), form=form)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


@router.post("/tasks/{task_id}/reassign", name="task_reassign")
def task_reassign(
    request: Request,
    task_id: RowId,
    db: DbSession,
    runtime: Runtime,
    tr: Tr,
    principal: CurrentPrincipal,
    actor: RequestActor,
    to_staff_id: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=work_service.REASON_MAX)] = "",
) -> Response:
    try:
        work_service.reassign_task(
            db, principal, task_id, to_staff_id=to_staff_id, reason=reason, actor=actor, clock=runtime.clock
        )
    except work_service.TaskError as exc:
        form = {"to_staff_id": to_staff_id, "reassign_reason": reason}
        return _detail_page(request, db, runtime, tr, principal, actor, task_id, error=str(exc), form=form)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


# --- rules (rule.write: the marketing role) ---

RULE_TEXT_FIELDS = ("name_zh", "name_en", "condition", "action", "priority", "template_zh", "template_en")
RULE_INT_FIELDS = ("sla_hours", "sla_working_days", "cooldown_days")


def _rule_form(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The rule fields of a submitted form (typed), and the raw text to show again when it is refused."""
    raw = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    data: dict[str, Any] = {k: raw.get(k, "").strip() for k in RULE_TEXT_FIELDS}
    data["offer"] = raw.get("offer", "").strip() or None
    data["product_category"] = raw.get("product_category", "").strip() or None
    for key in RULE_INT_FIELDS:
        text = raw.get(key, "").strip()
        if not text:
            data[key] = None if key == "sla_working_days" else 0
            continue
        try:
            data[key] = int(text)
        except ValueError as exc:
            raise service.RuleError(f"{key}: a whole number") from exc
    data["escalates"] = raw.get("escalates") == "on"
    data["marketing"] = raw.get("marketing") == "on"
    tier_text = raw.get("tier_actions", "").strip() or "{}"
    try:
        data["tier_actions"] = json.loads(tier_text)
    except json.JSONDecodeError as exc:
        raise service.RuleError(f"tier_actions: not JSON ({exc.msg}, line {exc.lineno}, column {exc.colno})") from exc
    return data, raw


def _rule_raw(rule: service.Rule) -> dict[str, str]:
    snap = service.rule_definition(rule)
    raw = {k: "" if snap.get(k) is None else str(snap[k]) for k in (*RULE_TEXT_FIELDS, *RULE_INT_FIELDS)}
    raw.update(
        offer=rule.offer or "",
        product_category=rule.product_category or "",
        category=rule.category,
        rule_id=rule.rule_id,
        escalates="on" if rule.escalates else "",
        marketing="on" if rule.marketing else "",
        tier_actions=json.dumps(snap["tier_actions"], ensure_ascii=False, indent=1, sort_keys=True),
    )
    return raw


def _form_page(
    request: Request,
    principal: Principal,
    *,
    raw: dict[str, str],
    rule: service.Rule | None,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "tasks/rule_form.html",
        {
            "rule": rule,
            "f": raw,
            "error": error,
            "categories": service.CATEGORIES,
            "actions": service.KINDS,
            "priorities": service.PRIORITIES,
            "product_categories": PRODUCT_CATEGORIES,
        },
        principal=principal,
        status_code=400 if error else 200,
    )


@router.get("/rules", name="rule_list")
def rule_list(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    rules = work_service.rules_for(db, principal)
    return render(request, "tasks/rules.html", {"rules": rules}, principal=principal)


@router.get("/rules/new", name="rule_new")
def rule_new(request: Request, principal: CurrentPrincipal) -> Response:
    require(principal, Permission.RULE_WRITE)
    raw = {"category": "custom", "action": "task", "priority": "normal", "sla_hours": "72", "cooldown_days": "0"}
    return _form_page(request, principal, raw={**raw, "tier_actions": "{}"}, rule=None)


@router.post("/rules", name="rule_create")
async def rule_create(request: Request, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> Response:
    require(principal, Permission.RULE_WRITE)
    form = await request.form()
    raw: dict[str, str] = {k: str(v) for k, v in form.items()}
    try:
        data, raw = _rule_form(form)
        data["rule_id"] = raw.get("rule_id", "").strip()
        data["category"] = raw.get("category", "custom").strip()
        rule = service.create_rule(db, data, actor=actor, principal=principal)
    except service.RuleError as exc:
        return _form_page(request, principal, raw=raw, rule=None, error=str(exc))
    return RedirectResponse(f"/rules/{rule.rule_id}", status_code=303)


@router.post("/rules/preview", name="rule_preview")
def rule_preview(
    request: Request,
    db: DbSession,
    runtime: Runtime,
    principal: CurrentPrincipal,
    condition: Annotated[str, Form(max_length=4000)] = "",
    rule_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Count and sample of the current run's customers a condition hits: ids, tier, segment and facts only."""
    require(principal, Permission.RULE_WRITE)
    result: dict[str, Any] | None = None
    error = None
    try:
        result = service.preview(db, runtime.settings.lake_dir, condition, sample=20, principal=principal)
    except service.RuleError as exc:
        error = str(exc)
    return render(
        request,
        "tasks/rule_preview.html",
        {"condition": condition, "rule_id": rule_id, "result": result, "error": error},
        principal=principal,
        status_code=400 if error else 200,
    )


@router.get("/rules/{rule_id}", name="rule_show")
def rule_show(request: Request, rule_id: str, db: DbSession, principal: CurrentPrincipal) -> Response:
    rule, versions = work_service.rule_for(db, principal, rule_id)
    history = [(v, json.loads(v.snapshot_json)) for v in reversed(versions)]
    return render(
        request,
        "tasks/rule_detail.html",
        {"rule": rule, "history": history, "tier_actions": json.loads(rule.tier_actions_json or "{}")},
        principal=principal,
    )


@router.get("/rules/{rule_id}/edit", name="rule_edit")
def rule_edit(request: Request, rule_id: str, db: DbSession, principal: CurrentPrincipal) -> Response:
    rule, _ = work_service.rule_for(db, principal, rule_id)
    return _form_page(request, principal, raw=_rule_raw(rule), rule=rule)


@router.post("/rules/{rule_id}", name="rule_update")
async def rule_update(
    request: Request, rule_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor
) -> Response:
    rule, _ = work_service.rule_for(db, principal, rule_id)
    form = await request.form()
    raw: dict[str, str] = {k: str(v) for k, v in form.items()}
    try:
        data, raw = _rule_form(form)
        service.update_rule(db, rule_id, data, actor=actor, principal=principal)
    except service.RuleError as exc:
        return _form_page(request, principal, raw={**raw, "rule_id": rule_id}, rule=rule, error=str(exc))
    return RedirectResponse(f"/rules/{rule_id}", status_code=303)


@router.post("/rules/{rule_id}/enable", name="rule_enable")
def rule_enable(rule_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> Response:
    service.set_enabled(db, rule_id, True, actor=actor, principal=principal)
    return RedirectResponse(f"/rules/{rule_id}", status_code=303)


@router.post("/rules/{rule_id}/disable", name="rule_disable")
def rule_disable(rule_id: str, db: DbSession, principal: CurrentPrincipal, actor: RequestActor) -> Response:
    service.set_enabled(db, rule_id, False, actor=actor, principal=principal)
    return RedirectResponse(f"/rules/{rule_id}", status_code=303)
