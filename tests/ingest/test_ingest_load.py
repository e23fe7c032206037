"""Loading into the database and the lake: idempotency, updates by key, cross-bundle keys, time zones, secrecy."""

from __future__ import annotations

from pathlib import Path

from ingest_bundles import (
    ID1,
    PHONE1,
    _tx,
    base_bundle,
    dumps,
    lake_files,
    lake_rows,
    load,
    table_rows,
    write_bundle,
)
from sqlalchemy import Engine

from bankcrm import lake
from bankcrm.config import Settings
from bankcrm.customers.models import ConsentEvent, ContactVersion, Customer
from bankcrm.products.models import Account, Product
from bankcrm.security.crypto import cipher_for
from bankcrm.staff.models import Branch, Staff, Team

MASTER_MODELS = (Branch, Staff, Team, Customer, Product, Account)
FACTS = ("balances", "transactions", "behavior_events")


def _db_snapshot(engine: Engine) -> str:
    return dumps({m.__tablename__: table_rows(engine, m) for m in (*MASTER_MODELS, ConsentEvent, ContactVersion)})


def test_first_load_fills_database_and_lake(any_settings: Settings, any_engine: Engine, tmp_path: Path) -> None:
    report = load(any_settings, any_engine, write_bundle(tmp_path / "b", base_bundle()))
    assert report.ok
    assert all(f.rejected == 0 for f in report.files.values())
    customers = {r["customer_id"]: r for r in table_rows(any_engine, Customer)}
    assert set(customers) == {"C001", "C002", "C003"}
    assert customers["C001"]["rm_id"] == "S001" and customers["C001"]["contact_version"] == 1
    assert customers["C003"]["marketing_consent"] is False  # default N
    consents = table_rows(any_engine, ConsentEvent)
    assert sorted((c["customer_id"], c["consent"], c["channel"]) for c in consents) == [
        ("C001", True, "extract"),
        ("C002", False, "extract"),
        ("C003", False, "extract"),
    ]
    versions = table_rows(any_engine, ContactVersion)
    assert sorted((v["customer_id"], v["version"], v["source"]) for v in versions) == [
        ("C001", 1, "extract"),
        ("C002", 1, "extract"),
        ("C003", 1, "extract"),
    ]
    teams = table_rows(any_engine, Team)
    assert [(t["team_id"], t["branch_id"]) for t in teams] == [("T01", "B002")]
    staff = {s["staff_id"]: s for s in table_rows(any_engine, Staff)}
    assert staff["S001"]["capacity"] == 300 and staff["S001"]["team_id"] == "T01"
    cipher = cipher_for(any_settings.effective_key_file)
    acct = {a["account_id"]: a for a in table_rows(any_engine, Account)}
    assert cipher.decrypt(acct["A001"]["account_number_enc"], context="account_number") == "6222020000000001"
    assert acct["A001"]["account_number_bidx"] == cipher.blind_index("6222020000000001", field="account_number")
    assert cipher.decrypt(customers["C001"]["id_number_enc"], context="id_number") == ID1
    assert customers["C001"]["phone_bidx"] == cipher.blind_index(PHONE1, field="phone")
    for table in lake.MASTER_SCHEMAS:
        assert lake.master_path(any_settings.lake_dir, table).exists()
    assert lake.months_present(any_settings.lake_dir, "balances") == ["2026-02", "2026-03"]
    assert len(lake_rows(any_settings, "transactions")) == 3


def test_lake_files_follow_the_lake_schemas(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    load(settings, engine, write_bundle(tmp_path / "b", base_bundle()))

    def shape(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
        return [(f.name, f.type) for f in schema]

    for table, schema in lake.MASTER_SCHEMAS.items():
        assert shape(pq.read_schema(lake.master_path(settings.lake_dir, table))) == shape(schema), table
    for table, schema in lake.FACT_SCHEMAS.items():
        (one,) = list(lake.fact_dir(settings.lake_dir, table).glob("month=2026-03/*.parquet"))
        assert shape(pq.read_schema(one)) == shape(schema), table


def test_second_load_of_same_bundle_changes_nothing(any_settings: Settings, any_engine: Engine, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", base_bundle())
    first = load(any_settings, any_engine, folder)
    db_before = _db_snapshot(any_engine)
    lake_before = lake_files(any_settings)
    second = load(any_settings, any_engine, folder)
    assert _db_snapshot(any_engine) == db_before
    assert lake_files(any_settings) == lake_before  # not even rewritten
    assert second.to_json()["files"] == first.to_json()["files"]
    assert second.load_id != first.load_id


def test_later_bundle_updates_by_key(any_settings: Settings, any_engine: Engine, tmp_path: Path) -> None:
    load(any_settings, any_engine, write_bundle(tmp_path / "b1", base_bundle()))
    later = base_bundle()
    later["customers"][0].update({"phone": "13700000000", "marketing_consent": "N"})  # contact + consent change
    later["customers"][1].update({"risk_level": "C4"})  # neither contact nor consent
    later["transactions"] = [
        _tx("T001", "A001", "2026-04-01T09:00:00+08:00", "99.99"),  # moves from March to April
        _tx("T004", "A002", "2026-03-20T10:00:00+08:00", "5.00"),
    ]
    later["balances"] = [{"account_id": "A001", "date": "2026-03-05", "balance": "2600.00"}]
    later["behavior_events"] = []
    report = load(any_settings, any_engine, write_bundle(tmp_path / "b2", later))
    assert report.ok
    customers = {r["customer_id"]: r for r in table_rows(any_engine, Customer)}
    assert customers["C001"]["contact_version"] == 2
    assert customers["C002"]["contact_version"] == 1 and customers["C002"]["risk_level"] == "C4"
    cipher = cipher_for(any_settings.effective_key_file)
    assert cipher.decrypt(customers["C001"]["phone_enc"], context="phone") == "13700000000"
    versions = sorted((v["customer_id"], v["version"]) for v in table_rows(any_engine, ContactVersion))
    assert versions == [("C001", 1), ("C001", 2), ("C002", 1), ("C003", 1)]
    consents = [(c["customer_id"], c["consent"]) for c in table_rows(any_engine, ConsentEvent)]
    assert consents.count(("C001", False)) == 1 and len(consents) == 4
    tx = {r[0]: r for r in lake_rows(any_settings, "transactions")}
    assert set(tx) == {"T001", "T002", "T003", "T004"}
    assert str(tx["T001"][4]) == "99.99" and str(tx["T001"][3]) == "2026-04-01" and tx["T001"][-1] == "2026-04"
    balances = {(r[0], str(r[1])): str(r[2]) for r in lake_rows(any_settings, "balances")}
    assert balances[("A001", "2026-03-05")] == "2600.00" and len(balances) == 3
    assert len(lake_rows(any_settings, "behavior_events")) == 2  # an empty file removes nothing


def test_foreign_keys_to_an_earlier_bundle(any_settings: Settings, any_engine: Engine, tmp_path: Path) -> None:
    load(any_settings, any_engine, write_bundle(tmp_path / "b1", base_bundle()))
    only_facts = {
        "transactions": [_tx("T100", "A003", "2026-03-10T12:00:00+08:00", "-3500.00", category="repayment")],
        "behavior_events": [{"customer_id": "C003", "ts": "2026-03-10T12:00:00+08:00", "event": "view_loan"}],
        "accounts": [
            {"account_id": "A009", "customer_id": "C002", "product_id": "P_DEP", "opened_on": "2026-03-01"},
        ],
    }
    report = load(any_settings, any_engine, write_bundle(tmp_path / "b2", only_facts))
    assert {n: f.rejected for n, f in report.files.items()} == {"transactions": 0, "behavior_events": 0, "accounts": 0}
    assert set(report.files) == {"accounts", "transactions", "behavior_events"}


def test_local_date_decides_the_month(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["transactions"] = [
        _tx("T_LOCAL", "A001", "2026-03-31T23:30:00+08:00", "1.00"),  # still 31 March in Shanghai
        _tx("T_UTC", "A001", "2026-03-31T16:30:00Z", "1.00"),  # 00:30 on 1 April in Shanghai
    ]
    bundle["behavior_events"] = [{"customer_id": "C001", "ts": "2026-03-31T16:30:00+00:00", "event": "app_login"}]
    load(settings, engine, write_bundle(tmp_path / "b", bundle))
    tx = {r[0]: (str(r[3]), r[-1]) for r in lake_rows(settings, "transactions")}
    assert tx == {"T_LOCAL": ("2026-03-31", "2026-03"), "T_UTC": ("2026-04-01", "2026-04")}
    (event,) = lake_rows(settings, "behavior_events")
    assert (str(event[2]), event[-1]) == ("2026-04-01", "2026-04")


def test_csv_and_parquet_give_the_same_result(tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["customers"][2]["phone"] = "bad"
    bundle["transactions"].append(_tx("T001", "A001", "2026-03-05T09:30:00+08:00", "1.00"))
    results = []
    for fmt in ("csv", "parquet"):
        settings = Settings(home=tmp_path / f"home-{fmt}")
        from bankcrm.cli.common import open_engine

        engine = open_engine(settings)
        report = load(settings, engine, write_bundle(tmp_path / fmt, bundle, fmt))
        results.append(
            (
                report.to_json()["files"],
                {t: lake_rows(settings, t) for t in ("customers", "accounts", "products", *FACTS)},
            )
        )
        engine.dispose()
    assert results[0][0] == results[1][0]
    assert results[0][1]["customers"] == results[1][1]["customers"]
    for table in ("accounts", "products", "balances", "behavior_events"):
        assert results[0][1][table] == results[1][1][table]
    # counterparty pseudonyms are keyed per home, so compare everything else
    strip = [[r[:8] for r in res[1]["transactions"]] for res in results]
    assert strip[0] == strip[1]


def test_typed_parquet_columns_are_accepted(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = write_bundle(tmp_path / "b", {k: v for k, v in base_bundle().items() if k != "balances"})
    pq.write_table(
        pa.table(
            {
                "account_id": ["A001", "A002"],
                "date": pa.array([dt.date(2026, 3, 1), dt.date(2026, 3, 2)]),
                "balance": pa.array([Decimal("1.50"), Decimal("2.00")], type=pa.decimal128(18, 2)),
            }
        ),
        folder / "balances.parquet",
    )
    report = load(settings, engine, folder)
    assert report.files["balances"].accepted == 2


def test_sensitive_values_are_not_stored_in_plaintext(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["customers"][2]["gender"] = "X"  # one reject, so the reject store holds a raw row too
    load(settings, engine, write_bundle(tmp_path / "b", bundle))
    secrets = [c[k] for c in bundle["customers"] for k in ("id_number", "phone", "address", "email")]
    secrets += ["6222020000000001", "ACME Trading Co"]
    db_bytes = b"".join(p.read_bytes() for p in settings.home.glob("bankcrm.db*"))
    lake_bytes = b"".join(p.read_bytes() for p in settings.lake_dir.rglob("*.parquet"))
    import duckdb

    lake_text = " ".join(
        str(duckdb.sql(f"SELECT * FROM read_parquet('{p}')").fetchall()) for p in settings.lake_dir.rglob("*.parquet")
    )
    for secret in secrets:
        assert secret.encode() not in db_bytes, secret
        assert secret.encode() not in lake_bytes, secret
        assert secret not in lake_text, secret
    assert "张伟" not in lake_text  # no customer names in the lake


def test_counterparties_become_stable_keyed_pseudonyms(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["transactions"] = [
        _tx("T001", "A001", "2026-03-05T09:30:00+08:00", "10.00", counterparty="ACME Trading Co"),
        _tx("T002", "A002", "2026-04-05T09:30:00+08:00", "20.00", counterparty="ACME Trading Co"),
        _tx("T003", "A001", "2026-03-06T09:30:00+08:00", "30.00", counterparty="Other Payee"),
        _tx("T004", "A001", "2026-03-07T09:30:00+08:00", "40.00"),
    ]
    load(settings, engine, write_bundle(tmp_path / "b1", bundle))
    # a later bundle meets the same payee again: the same pseudonym, so a nightly run can tell a new payee
    bundle["transactions"] = [_tx("T005", "A002", "2026-05-01T09:30:00+08:00", "50.00", counterparty="ACME Trading Co")]
    load(settings, engine, write_bundle(tmp_path / "b2", bundle))
    at = [f.name for f in lake.FACT_SCHEMAS["transactions"]].index("counterparty")
    cp = {r[0]: r[at] for r in lake_rows(settings, "transactions")}
    assert cp["T004"] is None
    assert cp["T001"] == cp["T002"] == cp["T005"] != cp["T003"]
    assert all(v.startswith("cp_") and len(v) == 23 for k, v in cp.items() if k != "T004")
