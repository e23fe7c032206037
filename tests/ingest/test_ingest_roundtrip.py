"""Generator → loader: an error-injected synthetic bundle loads exactly as its expected_load.json says."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ingest_bundles import lake_files, load, table_rows
from sqlalchemy import Engine

from bankcrm.config import Settings
from bankcrm.customers.models import ConsentEvent, ContactVersion, Customer
from bankcrm.ingest import repository
from bankcrm.products.models import Account

synth = pytest.importorskip("bankcrm.synth")


def _rows_in_file(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip()) - 1  # minus the header


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generated_bundle_reconciles(settings: Settings, engine: Engine, tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / "bundle"
    synth.generate_bundle(folder, customers=300, months=3, seed=7, fmt=fmt, inject_errors=True)
    expected = json.loads((folder / "expected_load.json").read_text())

    report = load(settings, engine, folder)
    assert report.ok
    got = report.to_json()["files"]
    assert got == expected["files"]
    for name, counts in got.items():
        assert counts["read"] == _rows_in_file(folder / f"{name}.{fmt}"), name
    assert any(c["rejected"] for c in got.values()), "the bundle should carry injected faults"

    with engine.connect() as conn:
        stored = repository.rejects_of_load(conn, report.load_id or 0)
    position = "line" if fmt == "csv" else "row"
    assert sorted((r["file"], r["line"], r["reason"]) for r in stored) == sorted(
        (x["file"], x[position], x["reason"]) for x in expected["injected"] if x["reason"]
    )

    # loading it again changes nothing and reports the same
    before = {m.__tablename__: table_rows(engine, m) for m in (Customer, Account, ConsentEvent, ContactVersion)}
    lake_before = lake_files(settings)
    again = load(settings, engine, folder)
    assert again.to_json()["files"] == got
    assert {m.__tablename__: table_rows(engine, m) for m in (Customer, Account, ConsentEvent, ContactVersion)} == before
    assert lake_files(settings) == lake_before


@pytest.mark.slow
def test_generate_then_ingest_through_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bankcrm.cli.main import app

    folder, home = tmp_path / "bundle", tmp_path / "home"
    runner = CliRunner()
    made = runner.invoke(
        app, ["generate", str(folder), "--customers", "300", "--months", "3", "--inject-errors", "--home", str(home)]
    )
    assert made.exit_code == 0, made.output
    expected = json.loads((folder / "expected_load.json").read_text())
    first = runner.invoke(app, ["ingest", str(folder), "--json", "--home", str(home)])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["files"] == expected["files"]
    second = runner.invoke(app, ["ingest", str(folder), "--json", "--home", str(home)])
    assert json.loads(second.stdout)["files"] == expected["files"]
