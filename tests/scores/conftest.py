"""Helpers for publishing hand-made runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy import Engine

from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import repository as repo

Publish = Callable[[Engine, date, list[str], list[str]], int]


def _scores(ids: list[str], tiers: list[str]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "customer_id": ids,
            "aum_avg_30d": [1234.5678 + i for i in range(n)],
            "aum_growth_6m": [None if i % 2 else 0.3 for i in range(n)],
            "last_tx_date": [date(2026, 3, 1)] * n,
            "tier_raw": tiers,
            "tier": tiers,
            "segment": ["A"] * n,
            "tags": ["" if i == 0 else None for i in range(n)],
        }
    )


def _tiers(ids: list[str], tiers: list[str], as_of: date) -> pa.Table:
    return pa.table({"customer_id": ids, "as_of": [as_of] * len(ids), "tier_raw": tiers, "tier": tiers})


def _publish(engine: Engine, as_of: date, ids: list[str], tiers: list[str]) -> int:
    factory = session_factory(engine)
    with session_scope(factory) as s:
        run_id = repo.create_run(s, as_of=as_of, engine="duckdb", config_json="{}").id
    with engine.begin() as conn:
        assert repo.insert_scores(conn, run_id, _scores(ids, tiers)) == len(ids)
        repo.insert_tier_history(conn, run_id, _tiers(ids, tiers, as_of))
    with session_scope(factory) as s:
        repo.publish_run(s, run_id, timings_json="{}", summary_json="{}")
    return run_id


@pytest.fixture
def publish() -> Publish:
    """Publish a run with the given customers and tiers; returns the run id."""
    return _publish
