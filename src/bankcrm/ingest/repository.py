"""All operational-database access of the loader (SQLAlchemy Core, bulk statements)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar, cast

import pyarrow as pa
from sqlalchemy import Connection, Table, case, func, insert, select, text, update
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
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
_Row = TypeVar("_Row")


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


_FETCH_ROWS = 100_000


def keys(conn: Connection, table_name: str) -> pa.Table:
    """Every key of a master table, as a one-column Arrow table ``k`` (fetched in chunks)."""
    table = MASTER_TABLES[table_name]
    column = table.c[MASTER_KEYS[table_name]]
    result = conn.execute(select(column), execution_options={"stream_results": True})
    chunks = [pa.array([r[0] for r in part], type=pa.string()) for part in result.partitions(_FETCH_ROWS)]
    return pa.table({"k": pa.chunked_array(chunks, type=pa.string())})


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
    names = [c.name for c in cols]
    types = {"k": pa.string(), "fp": pa.string(), "contact_fp": pa.string(), "consent": pa.bool_()}
    schema = pa.schema([(n, types.get(n, pa.int64())) for n in names])
    result = conn.execute(select(*cols), execution_options={"stream_results": True})
    # in chunks: a million rows as Python tuples would cost far more than the Arrow columns
    batches = [
        pa.record_batch([pa.array([r[i] for r in part], type=f.type) for i, f in enumerate(schema)], schema=schema)
        for part in result.partitions(_FETCH_ROWS)
    ]
    return pa.Table.from_batches(batches, schema=schema)


@contextmanager
def indexes_built_after(conn: Connection, table_name: str) -> Iterator[None]:
    """SQLite: drop the table's plain secondary indexes while it is filled and build them again after.

    For a table that is empty before the load. Inserting a million rows into indexes on random
    keys (blind indexes, names) touches a random page per row; building an index afterwards
    sorts once. Unique indexes stay, so keys are still checked on every insert. All of it
    happens inside the load's transaction: a failed load rolls the drop back too.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    indexes = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql LIKE 'CREATE INDEX %'",
        (table_name,),
    ).all()
    preparer = conn.dialect.identifier_preparer
    for name, _sql in indexes:
        conn.exec_driver_sql(f"DROP INDEX {preparer.quote(name)}")
    try:
        yield
    finally:
        for _name, sql in indexes:
            conn.exec_driver_sql(sql)


def _insert_for(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def _chunks(rows: Sequence[_Row], size: int = BATCH_ROWS) -> Iterable[Sequence[_Row]]:
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


def _upsert_statement(conn: Connection, table_name: str, columns: Sequence[str], source: Any = None) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE of ``columns`` (VALUES, or ``source`` rows when given)."""
    table = MASTER_TABLES[table_name]
    key = MASTER_KEYS[table_name]
    stmt = _insert_for(conn, table)
    if source is not None:
        stmt = stmt.from_select(list(columns), source)
    set_: dict[str, Any] = {c: stmt.excluded[c] for c in columns if c not in (key, "created_at")}
    for marker, owned in STAFF_OWNED.get(table_name, ()):
        if marker not in set_:
            continue
        unchanged = table.c[marker].is_not_distinct_from(stmt.excluded[marker])
        for column in owned:
            if column in set_:
                set_[column] = case((unchanged, table.c[column]), else_=stmt.excluded[column])
    return stmt.on_conflict_do_update(index_elements=[key], set_=set_)


def upsert(conn: Connection, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update by key (``created_at`` kept from the first insert; staff-owned columns see STAFF_OWNED)."""
    if not rows:
        return
    stmt = _upsert_statement(conn, table_name, list(rows[0]))
    _executemany(conn, MASTER_TABLES[table_name], stmt, rows)


class RowWriter:
    """Writes rows given as tuples of DB-API values (see ``convert``) in a fixed column order.

    ``insert`` is for rows whose key is not in the table yet (new master rows, history rows);
    ``upsert`` for master rows that exist, with the same rules as ``upsert``. SQLite gets
    executemany of tuples; PostgreSQL gets COPY, into the table itself for inserts and into a
    temporary table followed by one INSERT … ON CONFLICT for upserts.
    """

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        self.conn = conn
        self.table = table
        self.columns = list(columns)
        self.postgres = conn.dialect.name == "postgresql"
        self._processors = {c: table.c[c].type._cached_bind_processor(conn.dialect) for c in self.columns}
        self._insert_sql: str | None = None
        self._upsert_sql: str | None = None

    def convert(self, column: str, values: list[Any]) -> list[Any]:
        """The column's values as the driver takes them (the type's bind processor, once per distinct value)."""
        proc = self._processors[column]
        if proc is None:
            return values
        converted = {v: proc(v) for v in set(values) if v is not None}
        converted[None] = None
        return [converted[v] for v in values]

    def convert_one(self, column: str, value: Any) -> Any:
        proc = self._processors[column]
        return value if proc is None or value is None else proc(value)

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres:
            self._copy(self.table.name, rows)
            return
        if self._insert_sql is None:
            self._insert_sql = self._positional(insert(self.table))
        for chunk in _chunks(rows):
            self.conn.exec_driver_sql(self._insert_sql, list(chunk))

    def upsert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        name = self.table.name
        if self.postgres:
            stage = f"ingest_stage_{name}"
            cols = ", ".join(self._quote(c) for c in self.columns)
            self.conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
                f"SELECT {cols} FROM {self._quote(name)} WITH NO DATA"
            )
            self.conn.exec_driver_sql(f"TRUNCATE {stage}")
            self._copy(stage, rows)
            if self._upsert_sql is None:
                source: Any = select(*(sql_column(c) for c in self.columns)).select_from(sql_table(stage))
                stmt = _upsert_statement(self.conn, name, self.columns, source)
                self._upsert_sql = str(stmt.compile(dialect=self.conn.dialect))
            self.conn.exec_driver_sql(self._upsert_sql)
            return
        if self._upsert_sql is None:
            self._upsert_sql = self._positional(_upsert_statement(self.conn, name, self.columns))
        for chunk in _chunks(rows):
            self.conn.exec_driver_sql(self._upsert_sql, list(chunk))

    def _positional(self, stmt: Any) -> str:
        compiled = stmt.compile(dialect=self.conn.dialect, column_keys=self.columns)
        assert compiled.positional and list(compiled.positiontup or ()) == self.columns, compiled.string
        return str(compiled.string)

    def _quote(self, name: str) -> str:
        return str(self.conn.dialect.identifier_preparer.quote(name))

    def _copy(self, target: str, rows: Sequence[tuple[Any, ...]]) -> None:
        cols = ", ".join(self._quote(c) for c in self.columns)
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cur, cur.copy(f"COPY {self._quote(target)} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


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
