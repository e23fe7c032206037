"""The connection pool of a server database follows the settings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool, QueuePool

from bankcrm.config import Settings
from bankcrm.db.engine import make_engine


def test_postgres_pool_size_and_overflow_come_from_the_settings(tmp_path: Path) -> None:
    # no connection is opened: the pool is only configured
    settings = Settings(
        home=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none", db_pool_size=7, db_max_overflow=3
    )
    engine = make_engine(settings)
    try:
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() == 7
        assert engine.pool._max_overflow == 3  # no public reader for the overflow limit
    finally:
        engine.dispose()


def test_default_pool_holds_as_many_connections_as_a_busy_worker_uses(tmp_path: Path) -> None:
    engine = make_engine(Settings(home=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none"))
    try:
        assert engine.pool.size() == 20  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_pool_of_no_connections_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="db_pool_size"):
        Settings(home=tmp_path, db_pool_size=0)


def _pg_settings(tmp_path: Path, pg_schema_url: str | None, **values: object) -> Settings:
    if pg_schema_url is None:
        pytest.skip("BANKCRM_TEST_DATABASE_URL not set")
    return Settings(home=tmp_path, database_url=pg_schema_url, **values)  # type: ignore[arg-type]


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("select pg_backend_pid()")).scalar_one())


def _kill_backend(settings: Settings, pid: int) -> None:
    killer = create_engine(settings.effective_database_url, poolclass=NullPool)
    try:
        with killer.connect() as conn:
            assert conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        killer.dispose()
    time.sleep(0.2)  # the backend is gone once the signal is handled


@pytest.mark.postgres
def test_a_pooled_connection_the_server_dropped_is_replaced_after_idling(
    tmp_path: Path, pg_schema_url: str | None
) -> None:
    settings = _pg_settings(tmp_path, pg_schema_url, db_pool_size=1, db_max_overflow=0, db_ping_idle_seconds=0.1)
    engine = make_engine(settings)
    try:
        first = _backend_pid(engine)
        _kill_backend(settings, first)  # the pooled connection is now dead, and idle for longer than 0.1 s
        assert _backend_pid(engine) != first  # checked, found gone, replaced: the caller saw nothing
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_back_from_a_request_moments_ago_is_handed_out_unchecked(
    tmp_path: Path, pg_schema_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _pg_settings(tmp_path, pg_schema_url, db_pool_size=1, db_max_overflow=0, db_ping_idle_seconds=60)
    engine = make_engine(settings)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    try:
        first = _backend_pid(engine)
        for _ in range(5):
            assert _backend_pid(engine) == first
        assert pings == []  # no round trip before any of them
        # without the check, a dead connection reaches the caller: the idle threshold is what guards
        _kill_backend(settings, first)
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) != first  # the failure replaced it
    finally:
        engine.dispose()


def test_a_negative_idle_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="db_ping_idle_seconds"):
        Settings(home=tmp_path, db_ping_idle_seconds=-1)
