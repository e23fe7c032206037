"""Engine and session helpers. One session per request or CLI command, committed at that boundary."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bankcrm.audit.service import install_seal_hook
from bankcrm.config import Settings

if TYPE_CHECKING:
    from bankcrm.audit.sealer import BackgroundSealer


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.ensure_home()
        engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", settings.db_pool_size)
    kwargs.setdefault("max_overflow", settings.db_max_overflow)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()


def session_factory(engine: Engine, *, sealer: BackgroundSealer | None = None) -> sessionmaker[Session]:
    """Sessions that seal the audit events they recorded right after their commit (``audit.service.seal``).

    With ``sealer`` (``audit.sealer.BackgroundSealer``) a commit only wakes it and it seals moments later.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    install_seal_hook(factory, sealer)
    return factory


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def analyze_tables(conn: Connection, tables: Iterable[str]) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk write (no-op elsewhere).

    Without them a table loaded a moment ago still looks empty to the planner, so the first
    queries after a load or a nightly run scan whole tables instead of using the indexes; servers
    that run without autovacuum never catch up at all. ANALYZE samples a fixed number of rows and
    blocks neither readers nor writers.
    """
    names = _postgresql_table_list(conn.engine, tables)
    if names:
        conn.exec_driver_sql("ANALYZE " + names)


def vacuum_tables(engine: Engine, tables: Iterable[str]) -> None:
    """VACUUM (ANALYZE) tables on PostgreSQL after a bulk update (no-op elsewhere).

    An updated row's page is no longer marked all-visible, and an index-only scan then visits the
    heap page anyway, until a vacuum marks it again: the customer list relies on index-only scans
    of the customers after every publish rewrites their list scores. VACUUM cannot run inside a
    transaction, so it takes a connection of its own in autocommit; it blocks neither readers nor
    writers.
    """
    names = _postgresql_table_list(engine, tables)
    if names:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) " + names)


def _postgresql_table_list(engine: Engine, tables: Iterable[str]) -> str:
    """The tables as a quoted SQL list on PostgreSQL; empty elsewhere or when there are none."""
    if engine.dialect.name != "postgresql":
        return ""
    preparer = engine.dialect.identifier_preparer
    return ", ".join(preparer.quote(t) for t in tables if t)
