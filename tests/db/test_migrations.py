"""Migrations build the whole schema from empty on SQLite and PostgreSQL, and can go back down."""

from __future__ import annotations

from sqlalchemy import inspect

from bankcrm.config import Settings
from bankcrm.db.engine import make_engine
from bankcrm.db.migrate import current_revision, downgrade, head_revision, is_up_to_date, upgrade
from bankcrm.db.models import Base


def test_upgrade_from_empty_creates_every_table(any_settings: Settings) -> None:
    engine = make_engine(any_settings)
    assert current_revision(engine) is None
    upgrade(engine)
    assert is_up_to_date(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    # running again is a no-op
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_downgrade_to_empty_and_up_again(any_settings: Settings) -> None:
    engine = make_engine(any_settings)
    upgrade(engine)
    downgrade(engine, "base")
    assert not (set(Base.metadata.tables) & set(inspect(engine).get_table_names()))
    upgrade(engine)
    assert is_up_to_date(engine)


def test_models_match_migrations(any_settings: Settings) -> None:
    """No model change without a migration: autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(any_settings)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []
