"""Shared fixtures: a home folder per test, and migrated databases (SQLite always, PostgreSQL when configured).

PostgreSQL tests read BANKCRM_TEST_DATABASE_URL (CI sets it). Each test session works in a
schema of its own, so parallel runs against the same database never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text

from bankcrm.config import Settings, normalise_database_url
from bankcrm.db.engine import make_engine
from bankcrm.db.migrate import upgrade

PG_URL = os.environ.get("BANKCRM_TEST_DATABASE_URL")


def _pg_url_with_schema(schema: str) -> str:
    assert PG_URL
    url = normalise_database_url(PG_URL)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str | None]:
    """A fresh PostgreSQL schema for this test session, dropped at the end."""
    if not PG_URL:
        yield None
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_database_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_url_with_schema(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _reset_pg_schema(url: str) -> None:
    """Empty the session schema so each test starts from nothing (migrations run again)."""
    eng = create_engine(url)
    with eng.begin() as conn:
        schema = conn.execute(text("select current_schema()")).scalar_one()
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def settings(home: Path) -> Settings:
    """Embedded default: SQLite file inside a fresh home."""
    return Settings(home=home)


@pytest.fixture(params=["sqlite", "postgres"])
def any_settings(request: pytest.FixtureRequest, home: Path, pg_schema_url: str | None) -> Settings:
    """The same test on SQLite and on PostgreSQL (skipped without BANKCRM_TEST_DATABASE_URL)."""
    if request.param == "sqlite":
        return Settings(home=home)
    if pg_schema_url is None:
        pytest.skip("BANKCRM_TEST_DATABASE_URL not set")
    _reset_pg_schema(pg_schema_url)
    return Settings(home=home, database_url=pg_schema_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def any_engine(any_settings: Settings) -> Iterator[Engine]:
    eng = make_engine(any_settings)
    upgrade(eng)
    yield eng
    eng.dispose()
