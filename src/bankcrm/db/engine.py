"""Engine and session helpers. One session per request or CLI command, committed at that boundary."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
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
    engine = create_engine(url, **kwargs)
    _ping_connections_idle_for(engine, settings.db_ping_idle_seconds)
    return engine


def _ping_connections_idle_for(engine: Engine, seconds: float) -> None:
    """Check a pooled connection that sat unused for ``seconds`` or more before handing it out.

    A connection the server dropped while it sat in the pool (a restart, a failover, an idle
    timeout) is then replaced on checkout instead of failing the request that drew it.
    SQLAlchemy's ``pool_pre_ping`` does the same check on every checkout, which under load is a
    round trip and a server transaction per request for connections that were in use a moment
    ago. A connection that dies while in use still fails its request, with or without a ping,
    and SQLAlchemy then replaces every pooled connection older than it.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checking_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_CHECKED_IN_AT, None)
        if since is None or time.monotonic() - since < seconds:
            return  # new, or back from a request moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # the pool discards this connection and checks out (or opens) another
            raise DisconnectionError(f"connection idle for {time.monotonic() - since:.0f} s is gone") from exc


_CHECKED_IN_AT = "bankcrm_checked_in_at"


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
