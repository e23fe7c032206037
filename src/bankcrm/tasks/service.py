"""Business rules of the maintenance engine: rules as data, items from a run's hits, SLAs, escalation, export.

One open item per (customer, rule): an item holds ``open_key = "customer|rule"`` while it is
open (a unique index), so a rule that fires again on a later night re-confirms the open item
instead of raising a second one. After an item is closed, the rule's cooldown keeps the same
occurrence (the same birthday, the same maturity) from raising a new item the next night.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bankcrm.audit.service import Actor, AuditAction, record, record_change
from bankcrm.reference import PRODUCT_CATEGORIES
from bankcrm.security.permissions import NotFound, Permission, Principal, require
from bankcrm.tasks import repository as repo
from bankcrm.tasks.conditions import ConditionError
from bankcrm.tasks.defaults import ALL_DEFAULT_RULES, RuleDefinition
from bankcrm.tasks.models import OPEN_STATUSES, Rule, RuleVersion, Task, TaskEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
KINDS = ("task", "opportunity", "message")
PRIORITIES = ("urgent", "high", "normal", "low")
CATEGORIES = ("event", "need", "custom", "cadence")
CONTACT_PURPOSES = ("care", "review", "service", "marketing", "survey", "task")
# a contact plan raises its task this many days before the period runs out
CADENCE_LEAD_DAYS = 3
TIERS = ("vip", "potential", "ordinary")
CHANNELS = ("visit", "call", "wecom", "sms", "email", "wechat", "app")
EXPORT_COLUMNS = (
    "task_id",
    "customer_id",
    "rule_id",
    "kind",
    "priority",
    "created_at",
    "due_at",
    "assigned_to",
    "status",
)
RULE_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class RuleError(ValueError):
    """A rule that was refused, with the reason (a bad condition says where)."""


# --- rules as data ---


def _rule_snapshot(rule: Rule) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "version": rule.version,
        "category": rule.category,
        "name_zh": rule.name_zh,
        "name_en": rule.name_en,
        "condition": rule.condition,
        "action": rule.action,
        "tier_actions": json.loads(rule.tier_actions_json or "{}"),
        "product_category": rule.product_category,
        "offer": rule.offer,
        "priority": rule.priority,
        "sla_hours": rule.sla_hours,
        "sla_working_days": rule.sla_working_days,
        "escalates": rule.escalates,
        "marketing": rule.marketing,
        "cooldown_days": rule.cooldown_days,
        "every_days": rule.every_days,
        "contact_purposes": (rule.contact_purposes or "").split(),
        "template_zh": rule.template_zh,
        "template_en": rule.template_en,
        "enabled": rule.enabled,
    }


def validate_rule_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Check every field of a rule; the condition is parsed and checked against the rule columns."""
    from bankcrm.analytics.rules import compile_rule

    rule_id = str(data.get("rule_id", ""))
    if not rule_id or not set(rule_id) <= RULE_ID_CHARS or len(rule_id) > 64:
        raise RuleError("rule_id: use 1–64 lower-case letters, digits and '_'")
    for key, allowed in (("category", CATEGORIES), ("action", KINDS), ("priority", PRIORITIES)):
        if data.get(key) not in allowed:
            raise RuleError(f"{key}: {data.get(key)!r} is not one of {', '.join(allowed)}")
    for key in ("name_zh", "name_en", "template_zh", "template_en"):
        if not str(data.get(key) or "").strip():
            raise RuleError(f"{key}: required")
    sla = data.get("sla_hours")
    if not isinstance(sla, int) or isinstance(sla, bool) or not 1 <= sla <= 24 * 365:
        raise RuleError("sla_hours: a whole number of hours from 1 to 8760")
    working = data.get("sla_working_days")
    if working is not None and (not isinstance(working, int) or not 1 <= working <= 60):
        raise RuleError("sla_working_days: a whole number of working days from 1 to 60, or empty")
    cooldown = data.get("cooldown_days", 0)
    if not isinstance(cooldown, int) or not 0 <= cooldown <= 366:
        raise RuleError("cooldown_days: a whole number of days from 0 to 366")
    every = data.get("every_days")
    if data["category"] == "cadence" and (not isinstance(every, int) or not 1 <= every <= 366):
        raise RuleError("every_days: a contact plan needs a period of 1 to 366 days")
    if every is not None and data["category"] != "cadence":
        raise RuleError("every_days: only contact plans (category cadence) have a period")
    purposes = data.get("contact_purposes") or []
    if not isinstance(purposes, list) or not set(purposes) <= set(CONTACT_PURPOSES):
        raise RuleError(f"contact_purposes: a list drawn from {', '.join(CONTACT_PURPOSES)}")
    product = data.get("product_category")
    if product is not None and product not in PRODUCT_CATEGORIES:
        raise RuleError(f"product_category: {product!r} is not a product category")
    tier_actions = data.get("tier_actions") or {}
    if not isinstance(tier_actions, dict):
        raise RuleError("tier_actions: a mapping of tier to {kind, channel}")
    for tier, action in tier_actions.items():
        if tier not in (*TIERS, "*"):
            raise RuleError(f"tier_actions: unknown tier {tier!r}")
        if not isinstance(action, dict) or action.get("kind", data["action"]) not in KINDS:
            raise RuleError(f"tier_actions.{tier}: kind must be one of {', '.join(KINDS)}")
        if action.get("channel") is not None and action["channel"] not in CHANNELS:
            raise RuleError(f"tier_actions.{tier}: channel must be one of {', '.join(CHANNELS)}")
    try:
        compile_rule(rule_id, str(data.get("condition", "")))
    except ConditionError as exc:
        raise RuleError(f"condition: {exc}") from exc
    return data


def _apply(rule: Rule, data: dict[str, Any]) -> None:
    for key in (
        "category",
        "name_zh",
        "name_en",
        "condition",
        "action",
        "product_category",
        "offer",
        "priority",
        "sla_hours",
        "sla_working_days",
        "escalates",
        "marketing",
        "cooldown_days",
        "every_days",
        "template_zh",
        "template_en",
    ):
        if key in data:
            setattr(rule, key, data[key])
    if "contact_purposes" in data:
        rule.contact_purposes = " ".join(data["contact_purposes"] or []) or None
    if "tier_actions" in data:
        rule.tier_actions_json = json.dumps(data["tier_actions"] or {}, ensure_ascii=False, sort_keys=True)


def _save_version(session: Session, rule: Rule, change: str, by: str | None) -> None:
    repo.add_rule_version(
        session,
        RuleVersion(
            rule_id=rule.rule_id,
            version=rule.version,
            snapshot_json=json.dumps(_rule_snapshot(rule), ensure_ascii=False, sort_keys=True),
            change=change,
            changed_by=by,
        ),
    )


def _check_writer(principal: Principal | None) -> None:
    if principal is not None:
        require(principal, Permission.RULE_WRITE)


def ensure_default_rules(session: Session) -> int:
    """Insert the shipped rules that are missing (an analyst's edits are never overwritten)."""
    added = 0
    for definition in ALL_DEFAULT_RULES:
        if repo.get_rule(session, definition.rule_id) is None:
            _insert(session, definition.as_row(), is_default=True, by="system")
            added += 1
    return added


def _insert(session: Session, data: dict[str, Any], *, is_default: bool, by: str | None) -> Rule:
    rule = Rule(rule_id=data["rule_id"], version=1, enabled=data.get("enabled", True), is_default=is_default)
    _apply(rule, data)
    rule.updated_by = by
    repo.add_rule(session, rule)
    _save_version(session, rule, "create", by)
    return rule


def list_rules(session: Session) -> Sequence[Rule]:
    ensure_default_rules(session)
    return repo.list_rules(session)


def get_rule(session: Session, rule_id: str) -> Rule:
    rule = repo.get_rule(session, rule_id)
    if rule is None:
        raise NotFound("rule")
    return rule


def create_rule(session: Session, data: dict[str, Any], *, actor: Actor, principal: Principal | None = None) -> Rule:
    """Add an analyst's rule (disabled until enabled, so it can be previewed first unless asked otherwise)."""
    _check_writer(principal)
    data = {"category": "custom", "tier_actions": {}, "cooldown_days": 0, "enabled": False, **data}
    validate_rule_fields(data)
    if repo.get_rule(session, data["rule_id"]) is not None:
        raise RuleError(f"rule_id: {data['rule_id']!r} exists already")
    rule = _insert(session, data, is_default=False, by=actor.name)
    record(
        session,
        actor,
        AuditAction.CONFIG_CHANGE,
        target_type="rule",
        target_id=rule.rule_id,
        details={"change": "create", "rule": _rule_snapshot(rule)},
    )
    return rule


def update_rule(
    session: Session, rule_id: str, changes: dict[str, Any], *, actor: Actor, principal: Principal | None = None
) -> Rule:
    """Edit a rule: validated as a whole, version + 1, before/after audited."""
    _check_writer(principal)
    rule = repo.get_rule(session, rule_id, for_update=True)
    if rule is None:
        raise NotFound("rule")
    before = _rule_snapshot(rule)
    unknown = set(changes) - set(before) - {"enabled"}
    if unknown:
        raise RuleError(f"unknown rule fields: {', '.join(sorted(unknown))}")
    merged = {**before, **changes}
    validate_rule_fields(merged)
    _apply(rule, changes)
    if "enabled" in changes:
        rule.enabled = bool(changes["enabled"])
    rule.version += 1
    rule.updated_by = actor.name
    rule.updated_at = datetime.now(UTC)
    change = "update" if set(changes) - {"enabled"} else ("enable" if rule.enabled else "disable")
    _save_version(session, rule, change, actor.name)
    record_change(
        session,
        actor,
        action=AuditAction.CONFIG_CHANGE,
        target_type="rule",
        target_id=rule_id,
        before=before,
        after=_rule_snapshot(rule),
    )
    return rule


def set_enabled(
    session: Session, rule_id: str, enabled: bool, *, actor: Actor, principal: Principal | None = None
) -> Rule:
    return update_rule(session, rule_id, {"enabled": enabled}, actor=actor, principal=principal)


def rule_definition(rule: Rule) -> dict[str, Any]:
    return _rule_snapshot(rule)


def default_definition(rule_id: str) -> RuleDefinition | None:
    return next((d for d in ALL_DEFAULT_RULES if d.rule_id == rule_id), None)


# --- items from a run ---


def add_working_days(start: datetime, days: int) -> datetime:
    """``days`` Monday-to-Friday days after ``start`` (same local time, Asia/Shanghai calendar)."""
    local = start.astimezone(SHANGHAI)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local.astimezone(UTC)


def due_time(rule: Rule, created_at: datetime) -> datetime:
    if rule.sla_working_days:
        return add_working_days(created_at, rule.sla_working_days)
    return created_at + timedelta(hours=rule.sla_hours)


def tier_action(rule: Rule, tier: str | None) -> tuple[str, str | None]:
    """(kind, channel) of the item a rule raises for a customer of this tier."""
    actions = json.loads(rule.tier_actions_json or "{}")
    chosen = actions.get(tier or "") or actions.get("*") or {}
    return chosen.get("kind", rule.action), chosen.get("channel")


@dataclass
class RunItems:
    """What one run's evaluation did to the work items."""

    created: dict[str, int] = field(default_factory=dict)
    reconfirmed: int = 0
    cooling_down: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def tasks_created(self) -> int:
        return self.created.get("task", 0) + self.created.get("message", 0)

    @property
    def opportunities_created(self) -> int:
        return self.created.get("opportunity", 0)


def record_run_items(
    conn: Connection,
    run_id: int,
    hits: pa.Table,
    rules: Sequence[Rule],
    columns_by_rule: dict[str, Sequence[str]],
    *,
    now: datetime,
) -> RunItems:
    """Turn a run's hits into items in one transaction: new items in bulk, open ones re-confirmed.

    ``hits`` has the carried columns (customer_id, branch_id, rm_id, tier, …), a boolean
    ``hit__<rule>`` column per rule and the fact columns each rule's condition reads. Each rule's
    hits are matched against the open items, the cooldowns, the contact-plan periods and today's
    assignments as whole columns (Arrow), and its new items are written as one batch, so a
    million customers never become a million Python rows.
    """
    from bankcrm.analytics.rules import hit_column

    result = RunItems()
    repo.delete_hits(conn, run_id)  # a re-published run starts its list again
    # each rule's open items on their own, so a rule's hits are matched against its items alone
    open_now = repo.open_items_table(conn, [r.rule_id for r in rules])
    open_by_rule = {
        rule_id: open_now.filter(pc.equal(open_now.column("rule_id"), rule_id))
        for rule_id in pc.unique(open_now.column("rule_id")).to_pylist()
    }
    cooling: dict[str, set[str]] = {}
    for customer_id, rule_id in repo.recently_closed(
        conn, {r.rule_id: now - timedelta(days=r.cooldown_days) for r in rules if r.cooldown_days > 0}
    ):
        cooling.setdefault(rule_id, set()).add(customer_id)
    plans = [r for r in rules if r.category == "cadence" and r.every_days]
    longest = max((p.every_days or 0 for p in plans), default=0)
    last_contact = repo.last_contacts(conn, plans, since=now - timedelta(days=longest)) if plans else {}
    assignments = repo.current_assignments_table(conn)
    reconfirmed: list[pa.Array] = []
    for rule in rules:
        flags = pc.fill_null(hits.column(hit_column(rule.rule_id)), False)
        taken = hits.filter(flags)
        if taken.num_rows == 0:
            result.by_rule[rule.rule_id] = 0
            continue
        mine = open_by_rule.get(rule.rule_id)
        if mine is None:
            existing = pa.array(np.zeros(taken.num_rows, dtype=bool))
        else:
            at = pc.index_in(_column(taken, "customer_id"), value_set=_column(mine, "customer_id"))
            existing = at.is_valid()
            reconfirmed.append(_column(mine, "task_id").take(at.filter(existing)))
        new = taken.filter(pc.invert(existing))
        due = _due_column(rule, new, last_contact.get(rule.rule_id), now)
        if due is not None:  # a contact plan: customers contacted recently enough are not due
            new, due = new.filter(due.is_valid()), due.filter(due.is_valid())
        else:
            due = pa.array(np.full(new.num_rows, due_time(rule, now)), pa.timestamp("us", tz="UTC"))
        result.by_rule[rule.rule_id] = int(pc.sum(existing).as_py() or 0) + new.num_rows
        cooled = cooling.get(rule.rule_id)
        if cooled:
            warm = pc.invert(pc.is_in(_column(new, "customer_id"), value_set=pa.array(sorted(cooled), pa.string())))
            result.cooling_down += new.num_rows - int(pc.sum(warm).as_py() or 0)
            new, due = new.filter(warm), due.filter(warm)
        if new.num_rows == 0:
            continue
        items = _new_items(rule, run_id, new, due, assignments, columns_by_rule.get(rule.rule_id, ()), now)
        for entry in pc.value_counts(items.column("kind")).to_pylist():
            result.created[entry["values"]] = result.created.get(entry["values"], 0) + entry["counts"]
        repo.insert_items(conn, items)
    repo.record_hits_for_new(conn, run_id)
    task_ids = pa.concat_arrays(reconfirmed) if reconfirmed else pa.array([], pa.int64())
    repo.record_hits(conn, run_id, task_ids)
    result.reconfirmed = len(task_ids)
    return result


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def _due_column(rule: Rule, new: pa.Table, contacted: dict[str, datetime] | None, now: datetime) -> pa.Array | None:
    """A contact plan's due times: null where the last counted contact is recent enough; None for other rules.

    Due when the last contact is older than the period less the lead days: at the period's end
    (never before now), or after the SLA for a customer never contacted.
    """
    if not rule.every_days:
        return None
    timestamp = pa.timestamp("us", tz="UTC")
    contacted = contacted or {}
    ids = pa.array(list(contacted), pa.string())
    last = pa.array(list(contacted.values()), timestamp).take(pc.index_in(_column(new, "customer_id"), value_set=ids))
    period_end = pc.add(last, pa.scalar(timedelta(days=rule.every_days), pa.duration("us")))
    lead_start = pc.subtract(period_end, pa.scalar(timedelta(days=CADENCE_LEAD_DAYS), pa.duration("us")))
    now_s = pa.scalar(now, timestamp)
    never = pa.scalar(due_time(rule, now), timestamp)
    return pc.if_else(
        last.is_null(),
        never,
        pc.if_else(
            pc.greater(lead_start, now_s),
            pa.scalar(None, timestamp),
            pc.if_else(pc.greater(period_end, now_s), period_end, now_s),
        ),
    )


def _new_items(
    rule: Rule,
    run_id: int,
    new: pa.Table,
    due: pa.Array,
    assignments: pa.Table,
    fact_columns: Sequence[str],
    now: datetime,
) -> pa.Table:
    """The rows of the items a rule raises for ``new`` (repository.ITEM_COLUMNS, in that order)."""
    n = new.num_rows
    customers = _column(new, "customer_id")
    # items go to the RM who has the customer today (a reassignment in bankcrm outlives the extract)
    at = pc.index_in(customers, value_set=assignments.column("customer_id"))
    known = at.is_valid()
    rm = pc.if_else(known, assignments.column("rm_id").take(at), _column(new, "rm_id").cast(pa.string()))
    branch = pc.if_else(known, assignments.column("branch_id").take(at), _column(new, "branch_id").cast(pa.string()))
    kinds, channels = _tier_actions(rule, _column(new, "tier").cast(pa.string()))
    facts = [c for c in fact_columns if c in new.column_names]

    def const(value: Any, type_: pa.DataType) -> pa.Array:
        return pa.array([value] * n, type_)

    return pa.table(
        {
            "customer_id": customers,
            "rule_id": const(rule.rule_id, pa.string()),
            "rule_version": const(rule.version, pa.int64()),
            "run_id": const(run_id, pa.int64()),
            "kind": kinds,
            "priority": const(rule.priority, pa.string()),
            "status": const("open", pa.string()),
            "channel": channels,
            "marketing": const(bool(rule.marketing), pa.bool_()),
            "product_category": const(rule.product_category, pa.string()),
            "facts_json": facts_json(new.select(facts)),
            "created_at": const(now, pa.timestamp("us", tz="UTC")),
            "due_at": due.cast(pa.timestamp("us", tz="UTC")),
            "assigned_to": rm,
            "queue_branch_id": pc.if_else(rm.is_null(), branch, pa.scalar(None, pa.string())),
            "open_key": pc.binary_join_element_wise(customers, pa.scalar(rule.rule_id), "|"),
        }
    )


def _tier_actions(rule: Rule, tiers: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Per row, the (kind, channel) the rule's action takes for the customer's tier."""
    labels = pc.unique(tiers)
    chosen = [tier_action(rule, t) for t in labels.to_pylist()]
    at = pc.index_in(tiers, value_set=labels, skip_nulls=False)
    kinds = pa.array([k for k, _ in chosen], pa.string()).take(at)
    channels = pa.array([c for _, c in chosen], pa.string()).take(at)
    return kinds, channels


def facts_json(facts: pa.Table) -> pa.Array:
    """One JSON object per row with the facts behind the item: keys sorted, amounts to cents, dates ISO."""
    if facts.num_columns == 0:
        return pa.array(["{}"] * facts.num_rows, pa.string())
    import duckdb

    parts = []
    for name in sorted(facts.column_names):
        quoted = '"' + name.replace('"', '""') + '"'
        value = f"round({quoted}, 2)" if pa.types.is_floating(facts.schema.field(name).type) else quoted
        parts.append(f"{quoted} := {value}")
    with duckdb.connect() as con:
        con.register("facts", facts)
        out = con.sql(f"SELECT to_json(struct_pack({', '.join(parts)}))::VARCHAR AS j FROM facts").to_arrow_table()
    return out.column("j").combine_chunks().cast(pa.string())


# --- escalation ---


def escalate_overdue(session: Session, *, now: datetime | None = None, actor: Actor | None = None) -> list[int]:
    """Escalate open items of escalating rules (large_outflow) that passed their due time to the team lead."""
    now = now or datetime.now(UTC)
    actor = actor or Actor.system()
    escalated: list[int] = []
    for item in repo.overdue_escalations(session, now):
        lead = repo.team_lead_for(session, item.assigned_to, item.queue_branch_id)
        item.escalated_at = now
        item.escalated_to = lead
        repo.add_event(
            session,
            TaskEvent(
                task_id=item.task_id,
                at=now,
                actor=actor.name,
                action="escalate",
                detail_json=json.dumps({"to": lead, "due_at": item.due_at.isoformat()}),
            ),
        )
        escalated.append(item.task_id)
    if escalated:
        record(
            session,
            actor,
            "task.escalate",
            target_type="task",
            target_id=str(escalated[0]),
            details={"tasks": escalated[:100], "count": len(escalated)},
        )
    return escalated


# --- working an item ---


def close_item(
    session: Session, item: Task, *, status: str, by: str, outcome: str | None, now: datetime | None = None
) -> None:
    """Close an item (done, cancelled, expired), freeing its (customer, rule) slot."""
    if status in OPEN_STATUSES:
        raise ValueError(f"{status!r} is not a closed status")
    now = now or datetime.now(UTC)
    item.status = status
    item.closed_at = now
    item.closed_by = by
    item.outcome = outcome
    item.open_key = None
    repo.add_event(
        session,
        TaskEvent(task_id=item.task_id, at=now, actor=by, action=status, detail_json=json.dumps({"outcome": outcome})),
    )


# --- export ---


def _local_iso(value: datetime) -> str:
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def export_rows(session: Session, run_id: int, *, include_cadence: bool = False) -> list[dict[str, Any]]:
    """The run's items (raised or re-confirmed by it) as the export's rows.

    Contact-plan items (SPEC 5.1) are left out unless asked for: the export is the run's event and
    needs items (SPEC 5.3/5.4); the plans' coverage has its own report.
    """
    plans = set() if include_cadence else {r.rule_id for r in repo.list_rules(session) if r.category == "cadence"}
    return [
        {
            "task_id": item.task_id,
            "customer_id": item.customer_id,
            "rule_id": item.rule_id,
            "kind": item.kind,
            "priority": item.priority,
            "created_at": _local_iso(item.created_at),
            "due_at": _local_iso(item.due_at),
            "assigned_to": item.assigned_to if item.assigned_to else f"branch:{item.queue_branch_id}",
            "status": item.status,
        }
        for item in repo.run_items(session, run_id)
        if item.rule_id not in plans
    ]


def write_export(rows: list[dict[str, Any]], out_file: Path) -> None:
    """CSV or Parquet by the file's extension, columns exactly EXPORT_COLUMNS."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if out_file.suffix.lower() == ".parquet":
        table = pa.Table.from_pylist(
            rows,
            schema=pa.schema([("task_id", pa.int64())] + [(c, pa.string()) for c in EXPORT_COLUMNS if c != "task_id"]),
        )
        pq.write_table(table, out_file)
        return
    with out_file.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(EXPORT_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


# --- preview and history ---


def rule_history(session: Session, rule_id: str) -> list[dict[str, Any]]:
    return [
        {
            "version": v.version,
            "change": v.change,
            "changed_at": v.changed_at.isoformat(),
            "changed_by": v.changed_by,
            "rule": json.loads(v.snapshot_json),
        }
        for v in repo.rule_versions(session, rule_id)
    ]


def preview(
    session: Session, lake_dir: Path, condition: str, *, sample: int = 10, principal: Principal | None = None
) -> dict[str, Any]:
    """Count and sample the customers of the current run a condition hits (nothing is saved)."""
    from bankcrm.analytics import engines, publish
    from bankcrm.analytics.rules import compile_rule
    from bankcrm.scores import repository as scores_repo

    _check_writer(principal)
    try:
        compiled = compile_rule("preview", condition)
    except ConditionError as exc:
        raise RuleError(f"condition: {exc}") from exc
    run_id = scores_repo.current_run_id(session)
    if run_id is None:
        raise RuleError("no published run yet: run `bankcrm run --as-of DATE` first")
    path = publish.rule_table_file(lake_dir, run_id)
    if not path.exists():
        raise RuleError(f"run {run_id} kept no rule table: run the nightly job again to preview rules")
    run = scores_repo.get_run(session, run_id)
    result = engines.preview_rule(path, compiled.condition, sample=sample)
    return {
        "run_id": run_id,
        "as_of": run.as_of.isoformat() if run else None,
        "customers": result.customers,
        "hits": result.hits,
        "sample": result.sample,
    }
