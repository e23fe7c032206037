"""The nightly job end to end on a small generated bank: publish, labels, history, kill safety, CLI."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.nightly import NightlyError, run_nightly
from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.db.migrate import upgrade
from bankcrm.ingest.service import ingest_bundle
from bankcrm.scores import repository as repo
from bankcrm.scores.service import EXPORT_COLUMNS, export_scores
from bankcrm.synth.bundle import generate_bundle

AS_OF = date(2026, 8, 31)
runner = CliRunner()


@pytest.fixture(scope="module")
def loaded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a small synthetic bank loaded (copied per test so each test starts clean)."""
    base = tmp_path_factory.mktemp("bank")
    bundle = base / "bundle"
    generate_bundle(bundle, customers=300, months=8, seed=11, as_of=AS_OF, fmt="parquet")
    home = base / "home"
    settings = Settings(home=home)
    engine = make_engine(settings)
    upgrade(engine)
    report = ingest_bundle(settings, engine, bundle)
    assert report.ok
    engine.dispose()
    return home


@pytest.fixture
def home(loaded_home: Path, tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(loaded_home, target)
    return target


def _engine(home: Path) -> tuple[Settings, Engine]:
    settings = Settings(home=home)
    return settings, make_engine(settings)


def test_run_publishes_every_customer_with_every_label(home: Path, tmp_path: Path) -> None:
    settings, engine = _engine(home)
    result = run_nightly(settings, engine, AS_OF)
    assert result.customers == 300
    assert sum(result.tiers.values()) == sum(result.segments.values()) == sum(result.value_classes.values()) == 300
    assert set(result.segments) == {"A", "B", "C", "D"}
    assert list(result.timings) == [
        "prepare",
        "read",
        "features",
        "tiers",
        "value",
        "segments",
        "clv",
        "rules",
        "holdings",
        "tasks",
        "publish",
    ]
    out = tmp_path / "scores.csv"
    with session_scope(session_factory(engine)) as s:
        assert repo.current_run_id(s) == result.run_id
        run = repo.get_run(s, result.run_id)
        assert run is not None and run.status == "published"
        assert NightlyConfig.model_validate_json(run.config_json) == NightlyConfig()
        assert export_scores(s, result.run_id, out) == 300
    table = pacsv.read_csv(out)
    assert table.column_names == list(EXPORT_COLUMNS)
    rows = table.to_pylist()
    for row in rows:
        assert row["tier"] in ("vip", "potential", "ordinary")
        assert row["value_class"] in ("high_value", "micro_profit", "breakeven", "loss")
        assert 0 <= row["current_value"] <= 100 and 0 <= row["potential_value"] <= 100
        assert row["value_index"] == pytest.approx(0.6 * row["current_value"] + 0.4 * row["potential_value"])
        assert row["clv_current"] == pytest.approx(row["net_contribution"])
        if row["p_alive"] is not None:
            assert 0 <= row["p_alive"] <= 1
        # tier_raw follows the thresholds exactly
        growth = [g for g in (row["aum_growth_6m"], row["tx_volume_growth_6m"]) if g is not None]
        expected = (
            "vip" if row["aum_avg_30d"] >= 500_000 else "potential" if any(g >= 0.30 for g in growth) else "ordinary"
        )
        assert row["tier_raw"] == expected
        assert row["tier"] == row["tier_raw"]  # no earlier runs: no hysteresis


def test_second_run_keeps_history_and_migration_matrix(home: Path) -> None:
    settings, engine = _engine(home)
    first = run_nightly(settings, engine, date(2026, 7, 31))
    second = run_nightly(settings, engine, AS_OF)
    with session_scope(session_factory(engine)) as s:
        matrix = repo.migration_matrix(s, first.run_id, second.run_id)
        assert sum(matrix.values()) == 300
        # hysteresis: nobody drops a tier after a single lower month-end run
        downgrades = {k: n for k, n in matrix.items() if (k[0], k[1]) in {("vip", "potential"), ("vip", "ordinary")}}
        assert downgrades == {}
        assert repo.current_run_id(s) == second.run_id
    history_files = sorted((settings.lake_dir / "published" / "tier_history").glob("*.parquet"))
    assert len(history_files) == 2


def test_empty_home_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    settings, engine = _engine(tmp_path / "empty")
    upgrade(engine)
    with pytest.raises(NightlyError, match="load a bundle"):
        run_nightly(settings, engine, AS_OF)


def test_cli_json_and_bad_arguments(home: Path) -> None:
    result = runner.invoke(app, ["run", "--as-of", AS_OF.isoformat(), "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["customers"] == 300 and summary["run_id"] == 1
    assert {"tiers", "segments", "value_classes", "timings", "tasks_created", "opportunities_created"} <= set(summary)
    bad = runner.invoke(app, ["run", "--as-of", "2026-13-01", "--home", str(home)])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    bad = runner.invoke(app, ["run", "--as-of", "2026-08-31", "--engine", "oracle", "--home", str(home)])
    assert bad.exit_code == 2 and "--engine" in bad.output


@pytest.mark.slow
def test_killed_run_leaves_the_previous_results_intact(home: Path, tmp_path: Path) -> None:
    """Kill `bankcrm run` at random moments; readers always see the first run, complete."""
    settings, engine = _engine(home)
    first = run_nightly(settings, engine, date(2026, 7, 31))
    before = tmp_path / "before.csv"
    with session_scope(session_factory(engine)) as s:
        export_scores(s, first.run_id, before)
    command = [sys.executable, "-m", "bankcrm.cli", "run", "--as-of", AS_OF.isoformat(), "--home", str(home)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    full = time.perf_counter() - started
    with session_scope(session_factory(engine)) as s:
        complete = repo.current_run_id(s)
        # put the pointer back to the first run so the kills below have something to protect
        repo.publish_run(s, first.run_id, timings_json="{}", summary_json="{}")
    rng = random.Random(20261126)
    for _ in range(3):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, full * 0.95))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = tmp_path / "after.csv"
        with session_scope(session_factory(engine)) as s:
            current = repo.current_run_id(s)
            assert current in (first.run_id,) or current > (complete or 0)
            if current == first.run_id:
                export_scores(s, first.run_id, after)
                assert after.read_bytes() == before.read_bytes()
            else:  # the kill came after the flip: the new run is complete
                assert repo.count_scores(s, current) == 300
                repo.publish_run(s, first.run_id, timings_json="{}", summary_json="{}")
    # the next run cleans up whatever the killed ones left and publishes
    result = run_nightly(settings, engine, AS_OF)
    with session_scope(session_factory(engine)) as s:
        assert repo.current_run_id(s) == result.run_id
        for run in repo.list_runs(s):
            assert run.status in ("published", "failed")
            if run.status == "failed":
                assert repo.count_scores(s, run.id) == 0
