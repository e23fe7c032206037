"""All SQL of the maintenance engine: rules and their versions, work items, run hits and item history."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from bankcrm.customers.models import Customer, Interaction
from bankcrm.staff.models import Staff, Team
from bankcrm.tasks.models import OPEN_STATUSES, Rule, RuleVersion, Task, TaskEvent, TaskRunHit

INSERT_BATCH = 20_000


# --- rules ---


def list_rules(session: Session) -> Sequence[Rule]:
    return session.scalars(select(Rule).order_by(Rule.category, Rule.rule_id)).all()


def get_rule(session: Session, rule_id: str, *, for_update: bool = False) -> Rule | None:
    stmt = select(Rule).where(Rule.rule_id == rule_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def add_rule(session: Session, rule: Rule) -> None:
    session.add(rule)
    session.flush()


def add_rule_version(session: Session, version: RuleVersion) -> None:
    session.add(version)
    session.flush()


def rule_versions(session: Session, rule_id: str) -> Sequence[RuleVersion]:
    return session.scalars(
        select(RuleVersion).where(RuleVersion.rule_id == rule_id).order_by(RuleVersion.version)
    ).all()


# --- items raised by a run ---


def open_items_table(conn: Connection, rule_ids: Sequence[str]) -> pa.Table:
    """rule_id, customer_id and task_id of every open item of these rules, as columns.

    An open item is one whose ``open_key`` (``customer_id|rule_id``) is set.
    """
    schema = pa.schema([("rule_id", pa.string()), ("customer_id", pa.string()), ("task_id", pa.int64())])
    if not rule_ids:
        return schema.empty_table()
    open_items = Task.open_key.is_not(None), Task.rule_id.in_(rule_ids)
    return _columns(conn.execute(select(Task.rule_id, Task.customer_id, Task.task_id).where(*open_items)), schema)


def _columns(rows: Iterable[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Query rows (one value per field of ``schema``, in order) as an Arrow table."""
    columns: list[list[Any]] = [[] for _ in schema]
    for row in rows:
        for values, value in zip(columns, row, strict=True):
            values.append(value)
    return pa.table([pa.array(values, f.type) for values, f in zip(columns, schema, strict=True)], schema=schema)


def recently_closed(conn: Connection, since_by_rule: dict[str, datetime]) -> set[tuple[str, str]]:
    """(customer_id, rule_id) of items closed after each rule's cooldown start."""
    if not since_by_rule:
        return set()
    clauses = [and_(Task.rule_id == rule_id, Task.closed_at >= since) for rule_id, since in since_by_rule.items()]
    rows = conn.execute(
        select(Task.customer_id, Task.rule_id).where(Task.closed_at.is_not(None), or_(*clauses)).distinct()
    )
    return {(customer_id, rule_id) for customer_id, rule_id in rows if rule_id is not None}


def last_contacts(conn: Connection, plans: Sequence[Rule], *, since: datetime) -> dict[str, dict[str, datetime]]:
    """Per contact plan: customer → latest counted contact since ``since``.

    Counted: a logged interaction with one of the plan's purposes, or an item of the plan closed as done.
    """
    out: dict[str, dict[str, datetime]] = {}
    for plan in plans:
        latest: dict[str, datetime] = {}
        purposes = (plan.contact_purposes or "").split()
        queries = [
            select(Task.customer_id, func.max(Task.closed_at))
            .where(Task.rule_id == plan.rule_id, Task.status == "done", Task.closed_at >= since)
            .group_by(Task.customer_id)
        ]
        if purposes:
            queries.append(
                select(Interaction.customer_id, func.max(Interaction.occurred_at))
                .where(Interaction.purpose.in_(purposes), Interaction.occurred_at >= since)
                .group_by(Interaction.customer_id)
            )
        for query in queries:
            for customer_id, at in conn.execute(query):
                if at is None:
                    continue
                at = _aware(at)
                if customer_id not in latest or at > latest[customer_id]:
                    latest[customer_id] = at
        out[plan.rule_id] = latest
    return out


def _aware(value: datetime | str) -> datetime:
    """max() over a timestamp column comes back naive (or as text) on SQLite: read it as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


ITEM_COLUMNS = (
    "customer_id",
    "rule_id",
    "rule_version",
    "run_id",
    "kind",
    "priority",
    "status",
    "channel",
    "marketing",
    "product_category",
    "facts_json",
    "created_at",
    "due_at",
    "assigned_to",
    "queue_branch_id",
    "open_key",
)


ASSIGNMENT = ("customer_id", "rm_id", "branch_id")


def current_assignments_table(conn: Connection) -> pa.Table:
    """customer_id, rm_id and branch_id as the operational database has them now, as columns.

    The lake's snapshot holds the RM of the last extract; a reassignment made in bankcrm since
    then is only here, and items must go to the RM who has the customer today.
    """
    rows = conn.execute(select(Customer.customer_id, Customer.rm_id, Customer.branch_id))
    return _columns(rows, pa.schema([(name, pa.string()) for name in ASSIGNMENT]))


def insert_items(conn: Connection, items: pa.Table) -> int:
    """Bulk-insert new items (columns ITEM_COLUMNS): COPY from CSV on PostgreSQL, executemany elsewhere."""
    return _insert_columns(conn, Task.__tablename__, items.select(list(ITEM_COLUMNS)))


def _insert_columns(conn: Connection, table_name: str, rows: pa.Table) -> int:
    """Insert an Arrow table's rows into the table of that name (same column names), without the ORM.

    COPY from CSV on PostgreSQL; the DB-API's executemany of tuples elsewhere. The nightly run
    writes millions of items and run hits this way.
    """
    if rows.num_rows == 0:
        return 0
    cols = ", ".join(f'"{c}"' for c in rows.column_names)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        sql = f'COPY "{table_name}" ({cols}) FROM STDIN (FORMAT csv)'
        with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
            for start in range(0, rows.num_rows, INSERT_BATCH):
                buffer = io.BytesIO()
                pacsv.write_csv(rows.slice(start, INSERT_BATCH), buffer, options)
                copy.write(buffer.getvalue())
        return rows.num_rows
    marks = ", ".join("?" for _ in rows.column_names)
    sql = f'INSERT INTO "{table_name}" ({cols}) VALUES ({marks})'
    for start in range(0, rows.num_rows, INSERT_BATCH):
        batch = rows.slice(start, INSERT_BATCH)
        columns = [_sqlite_column(batch.column(c)) for c in rows.column_names]
        conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))
    return rows.num_rows


def _sqlite_column(column: pa.ChunkedArray) -> list[Any]:
    # timestamps stored as SQLAlchemy's UTCDateTime stores them on SQLite: naive UTC text
    if pa.types.is_timestamp(column.type):
        column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
    return column.to_pylist()


def record_hits_for_new(conn: Connection, run_id: int) -> None:
    """Every item this run created is one of its hits."""
    conn.execute(
        insert(TaskRunHit).from_select(
            ["run_id", "task_id"], select(Task.run_id, Task.task_id).where(Task.run_id == run_id)
        )
    )


def record_hits(conn: Connection, run_id: int, task_ids: pa.Array) -> None:
    """The run re-confirmed these open items (millions a night at 1M customers): one bulk insert."""
    run_ids = pa.repeat(pa.scalar(run_id, pa.int64()), len(task_ids))
    _insert_columns(conn, TaskRunHit.__tablename__, pa.table({"run_id": run_ids, "task_id": task_ids}))


def delete_hits(conn: Connection, run_id: int) -> None:
    conn.execute(delete(TaskRunHit).where(TaskRunHit.run_id == run_id))


def prune_hits(conn: Connection, keep_run_ids: Sequence[int]) -> None:
    """Drop run hits of runs no longer kept (the items themselves stay)."""
    if keep_run_ids:
        conn.execute(delete(TaskRunHit).where(TaskRunHit.run_id.not_in(keep_run_ids)))


def run_items(session: Session, run_id: int) -> Sequence[Task]:
    """The items a run raised or re-confirmed, in task id order."""
    return session.scalars(
        select(Task)
        .join(TaskRunHit, TaskRunHit.task_id == Task.task_id)
        .where(TaskRunHit.run_id == run_id)
        .order_by(Task.task_id)
    ).all()


def count_created(session: Session, run_id: int) -> dict[str, int]:
    rows = session.execute(select(Task.kind, func.count()).where(Task.run_id == run_id).group_by(Task.kind))
    return {kind: n for kind, n in rows}


# --- working items ---


def get_item(session: Session, task_id: int, *, for_update: bool = False) -> Task | None:
    stmt = select(Task).where(Task.task_id == task_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def add_event(session: Session, event: TaskEvent) -> None:
    session.add(event)


def overdue_escalations(session: Session, now: datetime) -> Sequence[Task]:
    """Open items of escalating rules past their due time and not yet escalated."""
    escalating = select(Rule.rule_id).where(Rule.escalates.is_(True))
    return session.scalars(
        select(Task)
        .where(
            Task.status.in_(OPEN_STATUSES),
            Task.escalated_at.is_(None),
            Task.due_at < now,
            Task.rule_id.in_(escalating),
        )
        .order_by(Task.task_id)
        .with_for_update()
    ).all()


def team_lead_for(session: Session, staff_id: str | None, branch_id: str | None) -> str | None:
    """The team lead of an RM's team; else a team lead of the branch; else None."""
    if staff_id:
        team_id = session.scalar(select(Staff.team_id).where(Staff.staff_id == staff_id))
        if team_id:
            lead = session.scalar(select(Team.lead_staff_id).where(Team.team_id == team_id))
            if lead:
                return lead
            lead = session.scalar(
                select(Staff.staff_id).where(Staff.team_id == team_id, Staff.role == "team_lead").limit(1)
            )
            if lead:
                return lead
        if branch_id is None:
            branch_id = session.scalar(select(Staff.branch_id).where(Staff.staff_id == staff_id))
    if branch_id:
        return session.scalar(
            select(Staff.staff_id)
            .where(Staff.branch_id == branch_id, Staff.role == "team_lead")
            .order_by(Staff.staff_id)
            .limit(1)
        )
    return None


def close_open_key(session: Session, task_id: int) -> None:
    session.execute(update(Task).where(Task.task_id == task_id).values(open_key=None))
