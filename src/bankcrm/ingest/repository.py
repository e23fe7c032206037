"""All operational-database access of the loader (SQLAlchemy Core, bulk statements)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import pyarrow as pa
from sqlalchemy import Connection, Table, case, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bankcrm.customers.models import ConsentEvent, ContactVersion, Customer
from bankcrm.db.base import utcnow
from bankcrm.ingest.models import IngestLoad, IngestReject
from bankcrm.products.models import Account, Product
from bankcrm.staff.models import Branch, Staff, Team

BATCH_ROWS = 5000
# one lock id shared by every loader on the same database (CRC32 of a fixed name)
ADVISORY_LOCK_ID = zlib.crc32(b"bankcrm.ingest")


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


MASTER_TABLES: dict[str, Table] = {
    "branches": _table(Branch),
    "staff": _table(Staff),
    "customers": _table(Customer),
    "products": _table(Product),
    "accounts": _table(Account),
}
LOADS = _table(IngestLoad)
REJECTS = _table(IngestReject)
TEAMS = _table(Team)
CONSENT_EVENTS = _table(ConsentEvent)
CONTACT_VERSIONS = _table(ContactVersion)
MASTER_KEYS = {
    "branches": "branch_id",
    "staff": "staff_id",
    "customers": "customer_id",
    "products": "product_id",
    "accounts": "account_id",
}


def lock_database(conn: Connection, on_wait: Callable[[str], None]) -> None:
    """On PostgreSQL, hold a transaction-level advisory lock so two loaders never interleave."""
    if conn.dialect.name != "postgresql":
        return
    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID}).scalar_one()
    if not got:
        on_wait("another load holds the database lock; waiting for it to finish")
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})


def tune_for_bulk_load(conn: Connection) -> None:
    """A bigger SQLite page cache: inserts into indexes on random keys (blind indexes) thrash the default."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -262144")  # KiB, i.e. 256 MB


def create_load(conn: Connection, bundle_dir: str) -> int:
    result = conn.execute(insert(LOADS).values(bundle_dir=bundle_dir, started_at=utcnow(), status="running"))
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def finish_load(conn: Connection, load_id: int, status: str, report: dict[str, Any]) -> None:
    conn.execute(
        update(LOADS)
        .where(LOADS.c.id == load_id)
        .values(status=status, finished_at=utcnow(), report_json=json.dumps(report, sort_keys=True))
    )


def keys(conn: Connection, table_name: str) -> pa.Table:
    """Every key of a master table, as a one-column Arrow table ``k``."""
    table = MASTER_TABLES[table_name]
    column = table.c[MASTER_KEYS[table_name]]
    values = conn.execute(select(column)).scalars().all()
    return pa.table({"k": pa.array(values, type=pa.string())})


def master_state(conn: Connection, table_name: str) -> pa.Table:
    """Key and source fingerprint of every row (customers: also contact fingerprint, consent, contact version)."""
    table = MASTER_TABLES[table_name]
    cols = [table.c[MASTER_KEYS[table_name]].label("k"), table.c.source_fingerprint.label("fp")]
    if table_name == "customers":
        cols += [
            table.c.contact_fingerprint.label("contact_fp"),
            table.c.marketing_consent.label("consent"),
            table.c.contact_version.label("contact_version"),
        ]
    rows = conn.execute(select(*cols)).all()
    names = [c.name for c in cols]
    types = {"k": pa.string(), "fp": pa.string(), "contact_fp": pa.string(), "consent": pa.bool_()}
    return pa.table({n: pa.array([r[i] for r in rows], type=types.get(n, pa.int64())) for i, n in enumerate(names)})


def _insert_for(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def _chunks(rows: Sequence[dict[str, Any]], size: int = BATCH_ROWS) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# Columns the bank's staff change in bankcrm (a reassignment, a contact correction): a later extract
# overwrites them only when the extract's own value changed since the previous extract, which the
# marker column records. Otherwise any other change in the row would silently undo the staff's work.
STAFF_OWNED: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "customers": (
        ("extract_rm_id", ("rm_id",)),
        (
            "contact_fingerprint",
            ("phone_enc", "phone_bidx", "address_enc", "email_enc", "occupation", "income_monthly"),
        ),
    ),
}


def upsert(conn: Connection, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update by key (``created_at`` kept from the first insert; staff-owned columns see STAFF_OWNED)."""
    if not rows:
        return
    table = MASTER_TABLES[table_name]
    key = MASTER_KEYS[table_name]
    stmt = _insert_for(conn, table)
    set_: dict[str, Any] = {c: stmt.excluded[c] for c in rows[0] if c not in (key, "created_at")}
    for marker, columns in STAFF_OWNED.get(table_name, ()):
        if marker not in set_:
            continue
        unchanged = table.c[marker].is_not_distinct_from(stmt.excluded[marker])
        for column in columns:
            if column in set_:
                set_[column] = case((unchanged, table.c[column]), else_=stmt.excluded[column])
    stmt = stmt.on_conflict_do_update(index_elements=[key], set_=set_)
    _executemany(conn, table, stmt, rows)


def _executemany(conn: Connection, table: Table, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk execute with the column types' bind processors applied once per value.

    The same statement and conversions SQLAlchemy would use, without its per-row parameter
    bookkeeping, which dominated the load time of a million-row master file.
    """
    columns = list(rows[0])
    compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
    processors = {c: table.c[c].type._cached_bind_processor(conn.dialect) for c in columns}
    names = list(compiled.positiontup) if compiled.positional and compiled.positiontup else columns
    order = [(n, _memoised(proc) if proc else None) for n, proc in ((n, processors.get(n)) for n in names)]
    for chunk in _chunks(rows):
        if compiled.positional:
            params: list[Any] = [
                tuple(proc(row[n]) if proc and row[n] is not None else row[n] for n, proc in order) for row in chunk
            ]
        else:
            params = [
                {n: proc(row[n]) if proc and row[n] is not None else row[n] for n, proc in order} for row in chunk
            ]
        conn.exec_driver_sql(compiled.string, params)


def _memoised(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Convert each distinct value once (dates and timestamps repeat a lot in one batch)."""
    cache: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            if len(cache) > 100_000:
                cache.clear()
            out = cache[value] = proc(value)
            return out
        except TypeError:  # unhashable
            return proc(value)

    return convert


def ensure_teams(conn: Connection, teams: Sequence[dict[str, Any]]) -> None:
    """Create teams the extract names for the first time (existing teams are left as they are)."""
    if not teams:
        return
    stmt = _insert_for(conn, TEAMS).on_conflict_do_nothing(index_elements=["team_id"])
    _executemany(conn, TEAMS, stmt, teams)


def insert_consent_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        _executemany(conn, CONSENT_EVENTS, insert(CONSENT_EVENTS), rows)


def insert_contact_versions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        _executemany(conn, CONTACT_VERSIONS, insert(CONTACT_VERSIONS), rows)


def insert_rejects(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        _executemany(conn, REJECTS, insert(REJECTS), rows)


def rejects_of_load(conn: Connection, load_id: int) -> list[dict[str, Any]]:
    table = REJECTS
    rows = conn.execute(select(table).where(table.c.load_id == load_id).order_by(table.c.file, table.c.line))
    return [dict(r._mapping) for r in rows]


def count_rows(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def now() -> datetime:
    return utcnow()
