"""Publishing a nightly run: the only place the nightly job writes (operational DB and the lake's copy).

Atomicity: per-customer rows are inserted under the new run id while the current-run
pointer still names the previous run; the pointer flips, with the run's status, in one
short transaction at the very end. A process killed at any earlier point leaves the
previous run in place; its partial rows are removed by the next run
(``abandon_unfinished_runs``).

The lake keeps a copy of the published tier history (``lake/published/tier_history``) so
that the next run — on DuckDB or on a Spark cluster — reads earlier tiers for hysteresis
without a database connection. The copy is brought in line with the database before each
run, so a kill between the flip and the copy heals itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bankcrm import lake
from bankcrm.db.engine import analyze_tables, session_factory, session_scope, vacuum_tables
from bankcrm.scores import repository as repo
from bankcrm.scores.models import TierHistory
from bankcrm.tasks import repository as task_repo


def _history_file(lake_dir: Path, run_id: int) -> Path:
    return lake.tier_history_dir(lake_dir) / f"run={run_id:08d}.parquet"


def tier_history_files(lake_dir: Path) -> list[Path]:
    folder = lake.tier_history_dir(lake_dir)
    return sorted(folder.glob("run=*.parquet")) if folder.exists() else []


def write_tier_history_file(lake_dir: Path, run_id: int, tiers: pa.Table) -> None:
    """Write one run's tiers atomically (temp file, then rename)."""
    path = _history_file(lake_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(tiers.select(lake.TIER_HISTORY_SCHEMA.names).cast(lake.TIER_HISTORY_SCHEMA), tmp)
    os.replace(tmp, path)


def rule_table_dir(lake_dir: Path) -> Path:
    return lake_dir / "published" / "rule_table"


def rule_table_file(lake_dir: Path, run_id: int) -> Path:
    """The run's rule table (scores and trigger facts), kept so analysts can preview a rule in seconds."""
    return rule_table_dir(lake_dir) / f"run={run_id:08d}.parquet"


def prune_rule_tables(lake_dir: Path, keep_run_ids: set[int]) -> None:
    folder = rule_table_dir(lake_dir)
    if not folder.exists():
        return
    for path in folder.glob("run=*.parquet"):
        if int(path.stem.split("=", 1)[1]) not in keep_run_ids:
            path.unlink()


def sync_tier_history(engine: Engine, lake_dir: Path) -> None:
    """Make the lake's tier-history copy hold exactly the published runs of the database."""
    with session_scope(session_factory(engine)) as session:
        published = {r.id for r in repo.published_runs(session)}
        present = {int(p.stem.split("=", 1)[1]): p for p in tier_history_files(lake_dir)}
        for run_id, path in present.items():
            if run_id not in published:
                path.unlink()
        for run_id in sorted(published - set(present)):
            write_tier_history_file(lake_dir, run_id, _tier_history_from_db(session, run_id))


def _tier_history_from_db(session: Session, run_id: int) -> pa.Table:
    rows = session.execute(
        select(TierHistory.customer_id, TierHistory.as_of, TierHistory.tier_raw, TierHistory.tier).where(
            TierHistory.run_id == run_id
        )
    ).all()
    return pa.Table.from_pylist([r._asdict() for r in rows], schema=lake.TIER_HISTORY_SCHEMA)


def publish(
    engine: Engine,
    lake_dir: Path,
    run_id: int,
    scores: pa.Table,
    *,
    timings: dict[str, float],
    summary: dict[str, object],
    keep_runs: int,
) -> None:
    """Insert the run's rows, flip the pointer in one transaction, then copy tiers to the lake and prune."""
    tiers = scores.select(["customer_id", "tier_raw", "tier"]).append_column(
        "as_of", pa.array([summary["as_of"]] * scores.num_rows, pa.date32())
    )
    with engine.begin() as conn:
        repo.insert_scores(conn, run_id, scores)
        repo.insert_tier_history(conn, run_id, tiers)
    with engine.begin() as conn:  # statistics that know the new run before the pointer names it
        analyze_tables(conn, ("customer_scores", "tier_history"))
    with session_scope(session_factory(engine)) as session:
        repo.publish_run(
            session, run_id, timings_json=json.dumps(timings), summary_json=json.dumps(summary, default=str)
        )
    # publishing rewrote every customer's list scores: mark their pages all-visible again, or the
    # customer list's index-only scans visit a heap page per customer until autovacuum comes by
    vacuum_tables(engine, ["customers"])
    write_tier_history_file(lake_dir, run_id, tiers)
    with session_scope(session_factory(engine)) as session:
        repo.prune_scores(session, keep_runs=keep_runs)
        kept = {r.id for r in repo.published_runs(session)[-keep_runs:]}
    prune_rule_tables(lake_dir, kept)
    with engine.begin() as conn:
        task_repo.prune_hits(conn, sorted(kept))
