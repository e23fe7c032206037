"""Files that cannot be read stop with a message naming file, line and column, and apply nothing."""

from __future__ import annotations

from pathlib import Path

from ingest_bundles import base_bundle, lake_rows, load, table_rows, write_bundle, write_csv
from sqlalchemy import Engine

from bankcrm import lake
from bankcrm.config import Settings
from bankcrm.customers.models import ConsentEvent, Customer
from bankcrm.ingest.models import IngestLoad
from bankcrm.products.models import Account, Product


def test_bad_encoding_names_the_first_bad_line_and_column(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    path = folder / "customers.csv"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace("张伟".encode(), "张伟".encode("gb18030"))  # line 3, a GBK name
    path.write_bytes(b"\n".join(lines))
    report = load(settings, engine, folder)
    assert not report.ok
    customers = report.files["customers"]
    assert customers.status == "failed"
    assert customers.message is not None
    assert customers.message.startswith("customers.csv, line 3, column 'name': invalid UTF-8")
    assert table_rows(engine, Customer) == [] and table_rows(engine, ConsentEvent) == []
    assert not lake.master_path(settings.lake_dir, "customers").exists()
    # files that reference customers are not loaded; the others are
    assert {n: f.status for n, f in report.files.items()} == {
        "branches": "loaded",
        "staff": "loaded",
        "customers": "failed",
        "products": "loaded",
        "accounts": "skipped",
        "balances": "skipped",
        "transactions": "skipped",
        "behavior_events": "skipped",
    }
    assert len(table_rows(engine, Product)) == 3
    assert report.to_json()["files"]["accounts"] == {
        "read": 0,
        "accepted": 0,
        "rejected": 0,
        "warnings": 0,
        "reasons": {},
    }
    (load_row,) = table_rows(engine, IngestLoad)
    assert load_row["status"] == "incomplete"


def test_bad_encoding_deep_in_a_large_file(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """Past the first block PyArrow reads, the error surfaces while streaming; still nothing is applied."""
    bundle = base_bundle()
    bundle["behavior_events"] = [
        {"customer_id": "C001", "ts": f"2026-03-01T00:00:{i % 60:02d}+08:00", "event": f"view_{i}"}
        for i in range(400_000)
    ]
    folder = write_bundle(tmp_path / "b", bundle)
    with (folder / "behavior_events.csv").open("ab") as fh:
        fh.write(b"C002,2026-03-02T00:00:00+08:00,caf\xe9\n")
    report = load(settings, engine, folder)
    events = report.files["behavior_events"]
    assert events.status == "failed"
    assert events.message == (
        "behavior_events.csv, line 400002, column 'event': invalid UTF-8 (byte 0xe9 at byte 35 of the line); "
        "the file must be UTF-8 encoded"
    )
    assert lake_rows(settings, "behavior_events") == []
    assert report.files["transactions"].status == "loaded"


def test_missing_required_column(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle)
    columns = [c for c in bundle["accounts"][0] if c != "opened_on"]
    write_csv(folder / "accounts.csv", bundle["accounts"], columns)
    report = load(settings, engine, folder)
    accounts = report.files["accounts"]
    assert accounts.status == "failed"
    assert accounts.message == "accounts.csv, line 1, column 'opened_on': required column is missing"
    assert table_rows(engine, Account) == []
    assert report.files["balances"].status == "skipped"
    assert report.files["behavior_events"].status == "loaded"  # depends on customers only


def test_missing_required_column_in_parquet(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    for row in bundle["transactions"]:
        del row["channel"]
    report = load(settings, engine, write_bundle(tmp_path / "b", bundle, "parquet"))
    assert report.files["transactions"].message == "transactions.parquet, column 'channel': required column is missing"
    assert lake_rows(settings, "transactions") == []


def test_unreadable_parquet(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle(), "parquet")
    data = (folder / "transactions.parquet").read_bytes()
    (folder / "transactions.parquet").write_bytes(data[: len(data) // 2])  # truncated in transfer
    report = load(settings, engine, folder)
    tx = report.files["transactions"]
    assert tx.status == "failed"
    assert tx.message is not None and tx.message.startswith("transactions.parquet: not a readable Parquet file")
    assert lake_rows(settings, "transactions") == []
    assert report.files["balances"].status == "loaded" and report.files["behavior_events"].status == "loaded"


def test_row_with_wrong_number_of_fields(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    with (folder / "balances.csv").open("a") as fh:
        fh.write("A001,2026-03-09,1.00,extra\n")
    report = load(settings, engine, folder)
    assert report.files["balances"].message == "balances.csv, line 5: expected 3 fields as in the header, found 4"
    assert lake_rows(settings, "balances") == []


def test_failed_file_keeps_what_an_earlier_bundle_loaded(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    load(settings, engine, write_bundle(tmp_path / "b1", base_bundle()))
    before = lake_rows(settings, "transactions")
    folder = write_bundle(tmp_path / "b2", base_bundle())
    (folder / "transactions.csv").write_bytes(b"tx_id,account_id\nT9,A001\n")
    report = load(settings, engine, folder)
    assert report.files["transactions"].status == "failed"
    assert lake_rows(settings, "transactions") == before


def test_line_numbers_hold_across_a_file_read_in_parallel_blocks(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """DuckDB reads big files in parallel blocks; the numbering must still be the physical line.

    Each kind of fault found at a different stage (row checks while reading, unknown keys and
    duplicates afterwards) must name the line it came from, and the first of two equal keys wins.
    """
    bundle = base_bundle()
    bad_type = {7, 123_457, 299_999, 599_998}
    unknown_account = {11, 250_001, 450_003}
    duplicate_of = {580_001: 3, 333_333: 333_000}  # row i repeats the key of an earlier row
    bundle["transactions"] = [
        {
            "tx_id": f"X{duplicate_of.get(i, i):07d}",
            "account_id": "A404" if i in unknown_account else "A001",
            "ts": "2026-03-05T09:30:00+08:00",
            "amount": "oops" if i in bad_type else f"{i % 1000}.25",
            "channel": "mobile",
            "category": "purchase",
            "merchant_group": "",
            "counterparty": "",
        }
        for i in range(600_000)
    ]
    report = load(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report.files["transactions"].reasons == {"bad_type": 4, "unknown_key": 3, "duplicate_key": 2}
    with engine.connect() as conn:
        from bankcrm.ingest import repository

        stored = repository.rejects_of_load(conn, report.load_id or 0)
    lines = {r["line"]: r["reason"] for r in stored if r["file"] == "transactions"}
    expected = {i + 2: "bad_type" for i in bad_type}
    expected |= {i + 2: "unknown_key" for i in unknown_account}
    expected |= {i + 2: "duplicate_key" for i in duplicate_of}
    assert lines == expected
    details = {r["line"]: r["detail"] for r in stored if r["reason"] == "duplicate_key"}
    assert details == {i + 2: f"key already accepted at line {first + 2}" for i, first in duplicate_of.items()}
