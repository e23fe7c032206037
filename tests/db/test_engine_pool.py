"""The connection pool of a server database follows the settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.pool import QueuePool

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
