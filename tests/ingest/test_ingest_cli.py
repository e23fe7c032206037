"""`bankcrm ingest` from the outside: the JSON report, exit codes, and concurrent loads in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_bundles import _tx, base_bundle, table_rows, write_bundle
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.customers.models import Customer
from bankcrm.db.engine import make_engine
from bankcrm.ingest.lock import ingest_lock
from bankcrm.ingest.models import IngestLoad

BANKCRM = str(Path(sys.executable).parent / "bankcrm")


def test_json_report_shape(tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["customers"][2]["phone"] = "0"
    bundle["customers"][1]["rm_id"] = "S404"
    folder = write_bundle(tmp_path / "b", bundle)
    result = CliRunner().invoke(app, ["ingest", str(folder), "--json", "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report["files"]) == [
        "branches",
        "staff",
        "customers",
        "products",
        "accounts",
        "balances",
        "transactions",
        "behavior_events",
    ]
    for counts in report["files"].values():
        assert set(counts) == {"read", "accepted", "rejected", "warnings", "reasons"}
        assert counts["read"] == counts["accepted"] + counts["rejected"]
        assert sum(counts["reasons"].values()) == counts["rejected"]
    assert report["files"]["customers"] == {
        "read": 3,
        "accepted": 2,
        "rejected": 1,
        "warnings": 1,
        "reasons": {"bad_phone": 1},
    }
    assert isinstance(report["load_id"], int)


def test_table_report_and_exit_code_of_an_unreadable_file(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    (folder / "products.csv").write_bytes(b"product_id,name\nP1,x\n")
    result = CliRunner().invoke(app, ["ingest", str(folder), "--home", str(tmp_path / "home")])
    assert result.exit_code == 1
    assert "products.csv, line 1, column 'category': required column is missing" in result.output
    assert "branches" in result.output


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope"), "--home", str(tmp_path / "home")])
    assert result.exit_code == 2
    assert "no such folder" in " ".join(result.output.split())


def test_a_file_instead_of_a_folder_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "customers.csv"), "--home", str(tmp_path / "home")])
    assert result.exit_code == 2
    assert "not a folder" in " ".join(result.output.split())


def test_files_that_are_not_loaded_are_named(tmp_path: Path) -> None:
    """Nothing loaded is no failure (exit 0), but a misnamed file must not pass unnoticed."""
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "Customers.csv").write_text("customer_id\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(folder), "--json", "--home", str(tmp_path / "home")])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["files"] == {}
    assert "ignored: Customers.csv is not an extract file name" in " ".join(result.stderr.split())
    assert f"no extract files in {folder}" in " ".join(result.stderr.split())


def _spawn(folder: Path, home: Path, database_url: str | None = None) -> subprocess.Popen[str]:
    args = [BANKCRM, "ingest", str(folder), "--json", "--home", str(home)]
    if database_url:
        args += ["--database-url", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANKCRM_")}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 60) -> str:
    """Read the process's stderr until ``marker`` appears."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if marker in seen:
            return seen
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{marker!r} never printed; stderr so far: {seen!r}")


def test_second_load_waits_for_the_home_lock(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = write_bundle(tmp_path / "b", base_bundle())
    with ingest_lock(home, on_wait=lambda _m: None):
        proc = _spawn(folder, home)
        message = _wait_for(proc, "waiting")
        assert f"another load (process {os.getpid()}) is running in this home" in message
        time.sleep(0.5)
        assert proc.poll() is None  # still waiting while the lock is held
    out, _err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert json.loads(out)["files"]["customers"]["accepted"] == 3


def test_two_concurrent_loads_both_apply(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = base_bundle()
    second = base_bundle()
    second["customers"][0]["city"] = "Hangzhou"
    second["transactions"] = [_tx(f"T9{i:02d}", "A002", "2026-03-08T10:00:00+08:00", "1.00") for i in range(50)]
    procs = [_spawn(write_bundle(tmp_path / n, b), home) for n, b in (("b1", first), ("b2", second))]
    for proc in procs:
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    engine = make_engine(Settings(home=home))
    loads = table_rows(engine, IngestLoad)
    assert [r["status"] for r in loads] == ["loaded", "loaded"]
    # the loads did not interleave: one finished before the other started
    a, b = sorted(loads, key=lambda r: r["started_at"])
    assert a["finished_at"] <= b["started_at"]
    assert len(table_rows(engine, Customer)) == 3
    import duckdb

    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{home}/lake/transactions/*/*.parquet')").fetchall()
    assert n == [(53,)]


@pytest.mark.postgres
def test_postgres_advisory_lock_serialises_loads_across_homes(
    tmp_path: Path, pg_schema_url: str | None, any_settings: Settings
) -> None:
    if pg_schema_url is None or any_settings.is_sqlite:
        pytest.skip("needs PostgreSQL")
    from bankcrm.cli.common import open_engine
    from bankcrm.ingest.repository import ADVISORY_LOCK_ID

    open_engine(any_settings).dispose()
    holder = create_engine(any_settings.effective_database_url)
    folder = write_bundle(tmp_path / "b", base_bundle())
    with holder.connect() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})
        proc = _spawn(folder, tmp_path / "other-home", pg_schema_url)
        _wait_for(proc, "another load holds the database lock")
        conn.rollback()  # ends the transaction, releasing the lock
    out, _err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert json.loads(out)["files"]["customers"]["accepted"] == 3
    holder.dispose()
