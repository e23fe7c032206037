"""Runs, scores and tier history on SQLite and PostgreSQL: bulk insert, pointer flip, pruning, matrix."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pyarrow as pa
from sqlalchemy import Engine

from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import repository as repo


def test_publish_flips_pointer_and_keeps_floats_nulls_and_empty_strings(
    any_engine: Engine, publish: Callable[..., int]
) -> None:
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        assert repo.current_run_id(s) is None
    run_id = publish(any_engine, date(2026, 3, 31), ["c1", "c2", "c3"], ["vip", "ordinary", "potential"])
    with session_scope(factory) as s:
        assert repo.current_run_id(s) == run_id
        rows = list(repo.scores_for_run(s, run_id))
        assert [r.customer_id for r in rows] == ["c1", "c2", "c3"]
        assert rows[1].aum_avg_30d == 1235.5678  # full float precision survives
        assert rows[1].aum_growth_6m is None and rows[0].aum_growth_6m == 0.3
        assert rows[0].tags == "" and rows[1].tags is None
        assert rows[2].last_tx_date == date(2026, 3, 1)


def test_current_score_of_reads_the_current_run_and_one_customer_at_once(
    any_engine: Engine, publish: Callable[..., int]
) -> None:
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        assert repo.current_score_of(s, "c1") is None  # nothing published yet
    first = publish(any_engine, date(2026, 3, 31), ["c1", "c2"], ["vip", "ordinary"])
    second = publish(any_engine, date(2026, 4, 30), ["c1"], ["potential"])
    with session_scope(factory) as s:
        found = repo.current_score_of(s, "c1")
        assert found is not None
        run_id, as_of, score = found
        assert (run_id, as_of) == (second, date(2026, 4, 30))
        assert score is not None and (score.run_id, score.customer_id, score.tier) == (second, "c1", "potential")
        # c2 has no row in the current run (only in the first): the run is still named, the score is None
        assert repo.current_score_of(s, "c2") == (second, date(2026, 4, 30), None)
        assert repo.score_of(s, first, "c2") is not None


def test_unpublished_run_is_invisible_then_abandoned(any_engine: Engine, publish: Callable[..., int]) -> None:
    first = publish(any_engine, date(2026, 3, 31), ["c1"], ["vip"])
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        partial = repo.create_run(s, as_of=date(2026, 4, 30), engine="duckdb", config_json="{}").id
    with any_engine.begin() as conn:
        repo.insert_scores(conn, partial, pa.table({"customer_id": ["c1"], "tier": ["ordinary"]}))
    with session_scope(factory) as s:
        assert repo.current_run_id(s) == first
        assert repo.abandon_unfinished_runs(s) == [partial]
    with session_scope(factory) as s:
        assert repo.count_scores(s, partial) == 0
        run = repo.get_run(s, partial)
        assert run is not None and run.status == "failed"


def test_prune_keeps_last_runs_and_all_tier_history(any_engine: Engine, publish: Callable[..., int]) -> None:
    runs = [publish(any_engine, date(2026, m, 28), ["c1", "c2"], ["vip", "ordinary"]) for m in (1, 2, 3, 4)]
    factory = session_factory(any_engine)
    with session_scope(factory) as s:
        assert repo.prune_scores(s, keep_runs=3) == [runs[0]]
    with session_scope(factory) as s:
        assert repo.count_scores(s, runs[0]) == 0 and repo.count_scores(s, runs[1]) == 2
        assert len(repo.tier_history_since(s, runs=10)) == 8


def test_migration_matrix_counts_moves_new_and_gone(any_engine: Engine, publish: Callable[..., int]) -> None:
    a = publish(any_engine, date(2026, 1, 31), ["c1", "c2", "c3", "c4"], ["vip", "potential", "ordinary", "ordinary"])
    b = publish(any_engine, date(2026, 2, 28), ["c1", "c2", "c3", "c5"], ["vip", "vip", "potential", "ordinary"])
    with session_scope(session_factory(any_engine)) as s:
        m = repo.migration_matrix(s, a, b)
    assert m == {
        ("vip", "vip"): 1,
        ("potential", "vip"): 1,
        ("ordinary", "potential"): 1,
        ("ordinary", "none"): 1,
        ("none", "ordinary"): 1,
    }
