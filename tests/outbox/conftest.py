"""Fixtures for the outbox tests: a migrated database with a small bank, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from outbox_bank import Bank, FakeClock, RecordingGateway, build_bank, sh
from sqlalchemy import Engine

from bankcrm.config import Settings
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security.crypto import cipher_for


@pytest.fixture
def bank(any_settings: Settings, any_engine: Engine) -> Bank:
    cipher = cipher_for(any_settings.effective_key_file)
    factory = session_factory(any_engine)
    with session_scope(factory) as session:
        build_bank(session, cipher, {"C1": True, "C2": False, "C3": True})
    clock = FakeClock(sh(2026, 11, 26, 10, 0))
    return Bank(any_settings, any_engine, factory, cipher, clock, RecordingGateway(clock))
