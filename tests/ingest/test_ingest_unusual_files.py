"""Files a bank's warehouse may well send that the generator never writes: each loads by section 3's
rules or stops alone with a message naming the file, line and column, never the whole bundle."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_bundles import base_bundle, lake_rows, load, write_bundle
from sqlalchemy import Engine, select

from bankcrm.config import Settings
from bankcrm.ingest.repository import MASTER_TABLES
from bankcrm.security.crypto import cipher_for


def _branches(engine: Engine) -> dict[str, str | None]:
    table = MASTER_TABLES["branches"]
    with engine.connect() as conn:
        return {r.branch_id: r.parent_id for r in conn.execute(select(table.c.branch_id, table.c.parent_id))}


def test_new_branches_whose_parents_form_a_cycle_are_accepted(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    """Each parent is in the bundle, so both rows pass; they cannot be written parent first."""
    bundle = base_bundle()
    bundle["branches"] += [
        {"branch_id": "B010", "name": "X", "city": "", "parent_id": "B011"},
        {"branch_id": "B011", "name": "Y", "city": "", "parent_id": "B010"},
    ]
    folder = write_bundle(tmp_path / "b", bundle)
    report = load(settings, engine, folder)
    assert report.ok
    assert (report.files["branches"].accepted, report.files["branches"].rejected) == (4, 0)
    assert report.files["transactions"].accepted == len(bundle["transactions"])
    stored = _branches(engine)
    assert (stored["B010"], stored["B011"]) == ("B011", "B010")
    again = load(settings, engine, folder)
    assert again.files["branches"].accepted == 4
    assert _branches(engine) == stored


def test_a_malformed_staff_file_stops_only_itself(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """Customers refer to staff only for a warning (unknown rm_id: unassigned), so they still load."""
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle)
    (folder / "staff.csv").write_text("staff_id,name,role\nS001,x,rm\n", encoding="utf-8")
    report = load(settings, engine, folder)
    assert report.files["staff"].status == "failed"
    assert "branch_id" in (report.files["staff"].message or "")
    customers = report.files["customers"]
    assert (customers.accepted, customers.rejected) == (len(bundle["customers"]), 0)
    with_rm = sum(1 for c in bundle["customers"] if c.get("rm_id"))
    assert customers.warnings == with_rm
    for name in ("accounts", "balances", "transactions", "behavior_events"):
        assert report.files[name].accepted == len(bundle[name]), name
    assert len(lake_rows(settings, "transactions")) == len(bundle["transactions"])


BRANCHES = "B001,Head office,Shanghai,\nB002,Pudong,Shanghai,B001\n"


@pytest.mark.parametrize(
    "header",
    [
        "branch_id,name,city,parent_id,City",  # differs only in case: an unknown column
        "branch_id,name,city,parent_id,note,note",  # an unknown column twice
        "branch_id,name,city,parent_id,",  # a trailing comma: a column without a name
    ],
)
def test_unknown_header_names_that_clash_are_ignored(
    settings: Settings, engine: Engine, tmp_path: Path, header: str
) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    extra = header.count(",") - 3
    rows = "".join(line + "," + ",".join(["x"] * extra) + "\n" for line in BRANCHES.splitlines())
    (folder / "branches.csv").write_text(header + "\n" + rows, encoding="utf-8")
    report = load(settings, engine, folder)
    assert report.ok
    assert (report.files["branches"].accepted, report.files["branches"].rejected) == (2, 0)
    assert _branches(engine) == {"B001": None, "B002": "B001"}


def test_a_known_column_named_twice_stops_the_file(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    text = "branch_id,name,city,parent_id,city\n" + "".join(f"{r},Beijing\n" for r in BRANCHES.splitlines())
    (folder / "branches.csv").write_text(text, encoding="utf-8")
    report = load(settings, engine, folder)
    failed = report.files["branches"]
    assert failed.status == "failed"
    assert failed.message == "branches.csv, line 1, column 'city': the header names this column twice (fields 3 and 5)"
    assert _branches(engine) == {}


def test_lines_ending_in_a_lone_carriage_return_load(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    (folder / "branches.csv").write_bytes(("branch_id,name,city,parent_id\n" + BRANCHES).replace("\n", "\r").encode())
    report = load(settings, engine, folder)
    assert report.ok
    assert _branches(engine) == {"B001": None, "B002": "B001"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # a quoted field may span lines: the faulty record is the one on line 5
        (
            b'branch_id,name,city,parent_id\nB001,"Head\noffice",Shanghai,\nB002,Pudong,Shanghai,B001\n'
            b"B003,x,y,B001,extra\n",
            "branches.csv, line 5: expected 4 fields as in the header, found 5",
        ),
        (
            b'branch_id,name,city,parent_id\nB001,"Head\noffice",Shanghai,\nB002,Pudong,\xc9\xcf\xba\xa3,B001\n',
            "branches.csv, line 4, column 'city': invalid UTF-8 (byte 0xc9 at byte 13 of the line); "
            "the file must be UTF-8 encoded",
        ),
        (
            b"branch_id,name,city,parent_id\r\nB001,Head office,Shanghai,\nB002,Pudong,Shanghai,B001\r\n"
            b"B003,x,y,B001\n",
            "branches.csv, line 2: the line ends in LF but the header in CRLF; use one line ending throughout",
        ),
        (
            b"branch_id,name,city,parent_id\nB001,Head office,Shanghai,\n   \nB002,Pudong,Shanghai,B001\n",
            "branches.csv, line 3, column 'name': expected 4 fields as in the header, found 1",
        ),
        (
            b'branch_id,name,city,parent_id\nB001,"Head \\"office\\"",Shanghai,\n',
            "branches.csv, line 2: not valid CSV (',' expected after '\"')",
        ),
        (
            b"branch_id,name,city,parent_id\nB001,Head office,Shanghai,\nB002," + b"x" * 3_000_000 + b",Shanghai,\n",
            "branches.csv, line 3: a record longer than the reader's limit of 2,097,152 bytes",
        ),
        (
            b"\nbranch_id,name,city,parent_id\nB001,Head office,Shanghai,\n",
            "branches.csv, line 1: the line is blank; the header row must come first",
        ),
    ],
    ids=[
        "quoted-line-break",
        "bad-utf8-after-quoted-line-break",
        "mixed-line-endings",
        "blank-spaces",
        "backslash",
        "3-MB-value",
        "blank-first-line",
    ],
)
def test_an_unreadable_csv_names_the_line(
    settings: Settings, engine: Engine, tmp_path: Path, content: bytes, message: str
) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    (folder / "branches.csv").write_bytes(content)
    report = load(settings, engine, folder)
    assert report.files["branches"].status == "failed"
    assert report.files["branches"].message == message
    assert _branches(engine) == {}


def test_a_corrupt_parquet_page_stops_only_that_file(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    path = folder / "transactions.parquet"
    data = bytearray(path.read_bytes())
    data[8:200] = bytes(b ^ 0xFF for b in data[8:200])  # the first data pages; the footer stays readable
    path.write_bytes(bytes(data))
    report = load(settings, engine, folder)
    failed = report.files["transactions"]
    assert failed.status == "failed"
    assert (failed.message or "").startswith("transactions.parquet: not a readable Parquet file (")
    assert report.files["behavior_events"].accepted == len(bundle["behavior_events"])
    assert report.files["accounts"].accepted == len(bundle["accounts"])
    assert lake_rows(settings, "transactions") == []


def test_a_parquet_column_named_file_row_number_is_ignored(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """DuckDB's row numbering uses that name; the file's own column must not clash with it."""
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    path = folder / "transactions.parquet"
    table = pq.read_table(path)
    rows = table.num_rows
    amounts = table.column("amount").to_pylist()
    amounts[1] = "oops"
    table = table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amounts, pa.string()))
    pq.write_table(table.append_column("file_row_number", pa.array(range(100, 100 + rows), pa.int64())), path)
    report = load(settings, engine, folder)
    assert report.ok
    assert (report.files["transactions"].accepted, report.files["transactions"].rejected) == (rows - 1, 1)
    with engine.connect() as conn:
        from bankcrm.ingest import repository

        stored = repository.rejects_of_load(conn, report.load_id or 0)
    assert [(r["file"], r["line"], r["reason"]) for r in stored] == [("transactions", 2, "bad_type")]


@pytest.mark.parametrize(
    ("column", "value", "accepted"),
    [
        (pa.decimal128(18, 3), "25000.125", False),
        (pa.decimal128(18, 3), "25000.120", True),
        (pa.float64(), 1500.505, False),
        (pa.float64(), 1500.51, True),
        (pa.float64(), 0.1 + 0.2, True),  # a sum computed in floats, a millionth of a cent from 0.30
        (pa.float32(), 1234.56, True),  # single precision: 1234.5600586, the float nearest 1234.56
        (pa.float32(), 1234.565, False),
    ],
)
def test_typed_parquet_money_needs_two_decimals_as_text_does(
    settings: Settings, engine: Engine, tmp_path: Path, column: pa.DataType, value: object, accepted: bool
) -> None:
    from decimal import Decimal

    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    path = folder / "transactions.parquet"
    table = pq.read_table(path)
    typed = Decimal(value) if isinstance(value, str) else value
    amounts = pa.array([typed] * table.num_rows, column)
    pq.write_table(table.set_column(table.schema.get_field_index("amount"), "amount", amounts), path)
    report = load(settings, engine, folder)
    tx = report.files["transactions"]
    if accepted:
        assert (tx.accepted, tx.rejected) == (table.num_rows, 0)
        assert {str(r[4]) for r in lake_rows(settings, "transactions")} == {str(round(Decimal(str(value)), 2))}
    else:
        assert (tx.accepted, tx.reasons) == (0, {"bad_type": table.num_rows})
        # the reject store keeps the value as the file had it
        with engine.connect() as conn:
            from bankcrm.ingest import repository

            stored = repository.rejects_of_load(conn, report.load_id or 0)
        cipher = cipher_for(settings.effective_key_file)
        raws = [json.loads(cipher.decrypt(r["raw_enc"], context="ingest_reject") or "") for r in stored]
        assert {r["amount"] for r in raws} == {str(value)}
        assert {r["tx_id"] for r in raws} == {t["tx_id"] for t in bundle["transactions"]}


@pytest.mark.parametrize(
    ("ts", "accepted"),
    [
        ("2026-03-06T10:00:00+25:00", False),
        ("2026-03-06T10:00:00+14:00", True),
        ("2026-03-06T10:00:00-12:30", True),
        ("2026-03-06T24:00:00+08:00", False),
        ("2026-03-06T10:60:00+08:00", False),
        ("2026-03-06T23:59:59.5Z", True),
        ("2026-03-06T10:00:00+14:30", False),
        ("2026-03-06T10:00:00-1459", False),
        ("0000-03-06T10:00:00+08:00", False),  # there is no year 0
        ("9999-12-31T20:00:00Z", False),  # 10000-01-01 in Asia/Shanghai
        ("0001-01-01T10:00:00+08:00", True),
    ],
)
def test_timestamps_must_be_real_iso_8601(
    settings: Settings, engine: Engine, tmp_path: Path, ts: str, accepted: bool
) -> None:
    bundle = base_bundle()
    bundle["transactions"][1]["ts"] = ts
    report = load(settings, engine, write_bundle(tmp_path / "b", bundle))
    tx = report.files["transactions"]
    assert tx.reasons == ({} if accepted else {"bad_type": 1})


def _retype(path: Path, column: str, values: pa.Array) -> None:
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, values), path)


@pytest.mark.parametrize(
    ("values", "accepted"),
    [
        # dataframe libraries write dates as timestamps: midnight is a date
        (pa.array([datetime(1990, 3, 7)] * 3, pa.timestamp("ns")), True),
        (pa.array([datetime(1990, 3, 7, 10, 30)] * 3, pa.timestamp("ns")), False),
        (pa.array([datetime(1990, 3, 6, 16, 0, tzinfo=UTC)] * 3, pa.timestamp("us", tz="UTC")), True),  # 00:00 +08:00
        (pa.array([datetime(1990, 3, 7, 0, 0, tzinfo=UTC)] * 3, pa.timestamp("us", tz="UTC")), True),  # midnight UTC
        # as pandas writes a zoned datetime column: nanoseconds, its zone in the file
        (pa.array([datetime(1990, 3, 6, 16, 0, tzinfo=UTC)] * 3, pa.timestamp("ns", tz="Asia/Shanghai")), True),
        (pa.array([datetime(1990, 3, 7, 3, 0, tzinfo=UTC)] * 3, pa.timestamp("ns", tz="Asia/Shanghai")), False),
    ],
    ids=["naive-midnight", "naive-10-30", "zoned-local-midnight", "zoned-utc-midnight", "ns-midnight", "ns-11-00"],
)
def test_a_parquet_date_may_be_a_midnight_timestamp(
    settings: Settings, engine: Engine, tmp_path: Path, values: pa.Array, accepted: bool
) -> None:
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    _retype(folder / "customers.parquet", "birth_date", values)
    customers = load(settings, engine, folder).files["customers"]
    if accepted:
        assert (customers.accepted, customers.rejected) == (3, 0)
        births = {r[0]: r[2] for r in lake_rows(settings, "customers")}
        assert set(births.values()) == {date(1990, 3, 7)}
    else:
        assert customers.reasons == {"bad_type": 3}


@pytest.mark.parametrize("kind", [pa.int64(), pa.float64()])
def test_a_parquet_phone_may_be_a_number(settings: Settings, engine: Engine, tmp_path: Path, kind: pa.DataType) -> None:
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    phones = [int(c["phone"]) for c in bundle["customers"]]
    _retype(folder / "customers.parquet", "phone", pa.array(phones, pa.int64()).cast(kind))
    customers = load(settings, engine, folder).files["customers"]
    assert (customers.accepted, customers.rejected) == (3, 0)


@pytest.mark.parametrize(
    ("file", "column", "value", "reasons"),
    [
        ("accounts", "days_past_due", "3.0", {}),  # a whole number as dataframes write it beside NaN
        ("accounts", "days_past_due", "3.5", {"bad_type": 1}),
        ("products", "expected_yield", "nan", {"bad_type": 1}),
        ("products", "expected_yield", "inf", {"bad_type": 1}),
        ("products", "expected_yield", "0.031", {}),
        ("products", "expected_yield", "3.1e-2", {}),
        ("products", "expected_yield", "-0.5", {}),
        ("products", "expected_yield", "1_000", {"bad_type": 1}),  # DuckDB alone would take digit separators
        ("products", "expected_yield", " 0.03", {"bad_type": 1}),  # and spaces, which no other number may have
        ("products", "expected_yield", "0.03\t", {"bad_type": 1}),
        ("products", "expected_yield", "0x10", {"bad_type": 1}),
        ("customers", "birth_date", "0000-01-01", {"bad_type": 1}),  # year 0: DuckDB takes it, Python cannot
        ("accounts", "opened_on", "0000-12-31", {"bad_type": 1}),
        ("balances", "date", "0000-01-01", {"bad_type": 1}),
        ("customers", "birth_date", "0001-01-01", {}),
    ],
)
def test_numbers_and_dates_in_text(
    settings: Settings, engine: Engine, tmp_path: Path, file: str, column: str, value: str, reasons: dict[str, int]
) -> None:
    bundle = base_bundle()
    bundle[file][0][column] = value
    report = load(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report.files[file].reasons == reasons


def test_int96_timestamps_are_utc_instants(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """Hive and Spark write timestamps as INT96 without a zone; by their convention those are UTC."""
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    path = folder / "transactions.parquet"
    table = pq.read_table(path)
    instants = [datetime.fromisoformat(t["ts"]).astimezone(UTC) for t in bundle["transactions"]]
    table = table.set_column(table.schema.get_field_index("ts"), "ts", pa.array(instants, pa.timestamp("us", tz="UTC")))
    pq.write_table(table, path, use_deprecated_int96_timestamps=True)
    assert pq.ParquetFile(path).schema.column(table.schema.get_field_index("ts")).physical_type == "INT96"
    report = load(settings, engine, folder)
    tx = report.files["transactions"]
    assert (tx.accepted, tx.rejected) == (len(instants), 0)
    stored = sorted(r[2] for r in lake_rows(settings, "transactions"))
    assert stored == sorted(instants)


@pytest.mark.parametrize(
    ("skills", "stored"), [("fund; wealth", "fund;wealth"), (" fund;;wealth; ", "fund;wealth"), (";", None)]
)
def test_skills_are_stored_as_checked(
    settings: Settings, engine: Engine, tmp_path: Path, skills: str, stored: str | None
) -> None:
    bundle = base_bundle()
    bundle["staff"][0]["skills"] = skills
    report = load(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report.files["staff"].reasons == {}
    table = MASTER_TABLES["staff"]
    with engine.connect() as conn:
        value = conn.execute(select(table.c.skills).where(table.c.staff_id == bundle["staff"][0]["staff_id"]))
        assert value.scalar_one() == stored


def test_parquet_dates_beyond_year_9999_are_bad_types(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """A date32 or timestamp can hold the year 10000; as text it would not have four digits."""
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    day_10000 = (date(9999, 12, 31) - date(1970, 1, 1)).days + 1
    _retype(folder / "customers.parquet", "birth_date", pa.array([7000, 7000, day_10000], pa.int32()).cast(pa.date32()))
    _retype(folder / "balances.parquet", "date", pa.array([day_10000, 20500, 20510], pa.int32()).cast(pa.date32()))
    seconds = [day_10000 * 86400, 1772760600, 1772762600]
    _retype(folder / "transactions.parquet", "ts", pa.array(seconds, pa.int64()).cast(pa.timestamp("s", tz="UTC")))
    report = load(settings, engine, folder)
    assert report.ok
    for name in ("customers", "balances", "transactions"):
        assert report.files[name].reasons == {"bad_type": 1}, name
    assert {r[-1] for r in lake_rows(settings, "balances")} <= {"2026-02", "2026-03"}


def test_parquet_text_written_as_plain_binary_is_text(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """Impala and older Hive write strings as BINARY without the UTF-8 annotation."""
    bundle = base_bundle()
    bundle["branches"][0]["name"] = "总行"
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    table = pq.read_table(folder / "branches.parquet")
    pq.write_table(
        table.cast(pa.schema([pa.field(f.name, pa.binary()) for f in table.schema])), folder / "branches.parquet"
    )
    report = load(settings, engine, folder)
    assert report.ok and report.files["branches"].accepted == len(bundle["branches"])
    assert report.files["customers"].rejected == 0  # their branch ids match the binary keys
    table_ = MASTER_TABLES["branches"]
    with engine.connect() as conn:
        names = {r.branch_id: r.name for r in conn.execute(select(table_.c.branch_id, table_.c.name))}
    assert names[bundle["branches"][0]["branch_id"]] == "总行"


def test_parquet_binary_that_is_not_utf8_stops_the_file(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    folder = write_bundle(tmp_path / "b", bundle, fmt="parquet")
    path = folder / "products.parquet"
    names = [b"\xff\xfe" if i == 1 else p["name"].encode() for i, p in enumerate(bundle["products"])]
    _retype(path, "name", pa.array(names, pa.binary()))
    report = load(settings, engine, folder)
    products = report.files["products"]
    assert products.status == "failed"
    assert products.message == (
        "products.parquet, line 2, column 'name': invalid UTF-8 in a text value; text must be UTF-8 encoded"
    )
    assert report.files["accounts"].status == "skipped"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        # the reader would drop the empty surplus fields and shift the name's second half into city
        ("B003,Head,Office,,", "line 4: expected 4 fields as in the header, found 5"),
        ("B003,Pudong,Shanghai,B001,", "line 4: expected 4 fields as in the header, found 5"),
        ("B003,Pudong,,,,", "line 4: expected 4 fields as in the header, found 6"),
        ("B003,Pudong", "line 4, column 'city': expected 4 fields as in the header, found 2"),
    ],
    ids=["unquoted-comma", "trailing-comma", "surplus-empties", "short"],
)
def test_a_record_with_surplus_empty_fields_stops_the_file(
    settings: Settings, engine: Engine, tmp_path: Path, row: str, message: str
) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    with (folder / "branches.csv").open("a", encoding="utf-8") as fh:
        fh.write(row + "\n")
    report = load(settings, engine, folder)
    assert report.files["branches"].status == "failed"
    assert report.files["branches"].message == f"branches.csv, {message}"
    assert _branches(engine) == {}


@pytest.mark.parametrize("bad", [False, True])
def test_a_quoted_line_break_is_read_on_one_thread(
    settings: Settings, engine: Engine, tmp_path: Path, bad: bool
) -> None:
    """DuckDB's parallel reader cannot pad records around a value spanning lines; the loader reads those serially."""
    bundle = base_bundle()
    bundle["customers"][0]["address"] = "上海市浦东新区\n世纪大道100号"
    if bad:  # an unquoted comma with empty fields after it, below the line break
        bundle["customers"][2]["address"] = "Room 1, Building 2"
        bundle["customers"][2]["email"] = ""
    folder = write_bundle(tmp_path / "b", bundle)
    text = (folder / "customers.csv").read_text(encoding="utf-8")
    if bad:
        text = text.replace('"Room 1, Building 2"', "Room 1, Building 2")
    (folder / "customers.csv").write_text(text, encoding="utf-8")
    report = load(settings, engine, folder)
    customers = report.files["customers"]
    if bad:
        assert customers.status == "failed"
        assert customers.message == "customers.csv, line 5: expected 17 fields as in the header, found 18"
    else:
        assert (customers.status, customers.accepted, customers.rejected) == ("loaded", 3, 0)
