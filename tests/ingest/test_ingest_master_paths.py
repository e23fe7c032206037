"""Master data is written column by column: new keys by plain insert, existing keys by upsert, in batches.

Whatever the path and the batch size, the stored rows must be the same: the same values behind
the ciphertexts, the same blind indexes and fingerprints, the same contact versions and consent
events in the same order.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from ingest_bundles import ID_X, base_bundle, load, table_rows, write_bundle
from sqlalchemy import Engine

from bankcrm.config import Settings
from bankcrm.customers.models import ConsentEvent, ContactVersion, Customer
from bankcrm.db.engine import make_engine
from bankcrm.db.migrate import upgrade
from bankcrm.ingest import master, repository
from bankcrm.products.models import Account
from bankcrm.security.crypto import FieldCipher, KeyRing, cipher_for

ENCRYPTED = {
    "id_number_enc": "id_number",
    "phone_enc": "phone",
    "address_enc": "address",
    "email_enc": "email",
    "account_number_enc": "account_number",
}
STAMPS = ("created_at", "updated_at", "changed_at", "recorded_at", "id")


def _plain(settings: Settings, rows: list[dict[str, Any]], *, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows with ciphertexts replaced by their plaintext and load timestamps left out."""
    cipher = cipher_for(settings.effective_key_file)
    out = []
    for row in rows:
        plain = {}
        for k, v in row.items():
            if k in STAMPS or k in drop:
                continue
            plain[k] = cipher.decrypt(v, context=ENCRYPTED[k]) if k in ENCRYPTED else v
        out.append(plain)
    return sorted(out, key=repr)


def _stored(settings: Settings, engine: Engine, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    def ordered(model: Any) -> list[dict[str, Any]]:
        # history rows in id order: the order they were written in must not depend on the path
        rows = sorted(table_rows(engine, model), key=lambda r: r["id"])
        return [{k: v for k, v in _plain(settings, [r], drop=drop)[0].items()} for r in rows]

    return {
        "customers": _plain(settings, table_rows(engine, Customer), drop=drop),
        "accounts": _plain(settings, table_rows(engine, Account), drop=drop),
        "contact_versions": ordered(ContactVersion),
        "consent_events": ordered(ConsentEvent),
    }


def _home_with_keys(tmp_path: Path, name: str, keys_from: Settings | None, db_url: str | None) -> Settings:
    settings = Settings(home=tmp_path / name, database_url=db_url)
    settings.ensure_home()
    if keys_from is not None:
        # the same keys, so blind indexes and fingerprints are comparable across the two homes
        shutil.copy(keys_from.effective_key_file, settings.effective_key_file)
        os.chmod(settings.effective_key_file, 0o600)
    return settings


def _bigger_bundle() -> dict[str, list[dict[str, Any]]]:
    bundle = base_bundle()
    template = bundle["customers"][0]
    for i in range(4, 10):
        row = dict(template, customer_id=f"C00{i}", phone=f"1390000000{i}", email=f"c{i}@example.com")
        row["marketing_consent"] = "Y" if i % 2 else "N"
        row["address"] = "" if i == 5 else row["address"]
        bundle["customers"].append(row)
        bundle["accounts"].append(dict(bundle["accounts"][0], account_id=f"A10{i}", customer_id=f"C00{i}"))
    bundle["customers"][1]["id_number"] = ID_X.lower()  # stored upper-case on every path
    return bundle


def _changed(bundle: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Every customer and account differs from ``bundle`` (contacts, consent, RM, numbers, dates)."""
    changed = {k: [dict(r) for r in v] for k, v in bundle.items()}
    for i, row in enumerate(changed["customers"]):
        row.update(
            phone=f"1370000000{i}",
            address="旧地址",
            email=f"old{i}@example.com",
            marketing_consent="N" if row["marketing_consent"] == "Y" else "Y",
            rm_id="S002",
            risk_level="C1",
            income_monthly="1.00",
        )
    for i, row in enumerate(changed["accounts"]):
        row.update(account_number=f"62220299999999{i:02d}", opened_on="2019-01-01", amount_due="7.77")
    return changed


def _wipe_customers(engine: Engine) -> None:
    with engine.begin() as conn:
        for model in (ConsentEvent, ContactVersion, Account, Customer):
            conn.execute(model.__table__.delete())


def test_insert_and_upsert_paths_store_the_same_rows(
    any_settings: Settings, any_engine: Engine, tmp_path: Path
) -> None:
    bundle = _bigger_bundle()
    first = load(any_settings, any_engine, write_bundle(tmp_path / "b", bundle))
    assert first.ok
    inserted = _stored(any_settings, any_engine, drop=("contact_version",))

    # a database that held other values for every key: the same bundle now takes the upsert path
    if any_settings.is_sqlite:
        other = _home_with_keys(tmp_path, "other", any_settings, None)
        engine = make_engine(other)
        upgrade(engine)
    else:
        other, engine = any_settings, any_engine
        _wipe_customers(engine)
    try:
        assert load(other, engine, write_bundle(tmp_path / "changed", _changed(bundle))).ok
        second = load(other, engine, write_bundle(tmp_path / "b2", bundle))
        assert second.to_json()["files"] == first.to_json()["files"]
        upserted = _stored(other, engine, drop=("contact_version",))
        assert upserted["customers"] == inserted["customers"]
        assert upserted["accounts"] == inserted["accounts"]
        assert {r["contact_version"] for r in table_rows(engine, Customer)} == {2}
        n = len(bundle["customers"])
        versions = [(v["customer_id"], v["version"], v["reason"]) for v in upserted["contact_versions"]]
        assert versions[n:] == [(c["customer_id"], 2, "changed in extract") for c in bundle["customers"]]
        consents = [(c["customer_id"], c["consent"], c["note"]) for c in upserted["consent_events"]]
        assert consents[n:] == [
            (c["customer_id"], c["marketing_consent"] == "Y", "changed in extract") for c in bundle["customers"]
        ]
        # the new contact version holds the values now stored on the customer, as on a first load
        assert [{k: v for k, v in r.items() if k != "version"} for r in upserted["contact_versions"][n:]] == [
            {k: v for k, v in r.items() if k != "version" and k != "reason"} | {"reason": "changed in extract"}
            for r in inserted["contact_versions"]
        ]
    finally:
        if any_settings.is_sqlite:
            engine.dispose()


def test_batch_boundaries_do_not_change_what_is_stored(
    any_settings: Settings, any_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _bigger_bundle()
    # a first bundle with part of the customers, so later batches mix new keys and changed keys
    early = {k: [dict(r) for r in v] for k, v in bundle.items()}
    early["customers"] = [dict(r, phone="13600000000") for r in early["customers"][::2]]
    early_ids = {r["customer_id"] for r in early["customers"]}
    early["accounts"] = [a for a in early["accounts"] if a["customer_id"] in early_ids]

    def run(settings: Settings, engine: Engine, batch: int | None) -> dict[str, Any]:
        if batch is not None:
            monkeypatch.setattr(master, "_BATCH_ROWS", batch)
            monkeypatch.setattr(repository, "BATCH_ROWS", batch)
        assert load(settings, engine, write_bundle(tmp_path / f"e{batch}", early)).ok
        assert load(settings, engine, write_bundle(tmp_path / f"b{batch}", bundle)).ok
        monkeypatch.undo()
        return _stored(settings, engine)

    whole = run(any_settings, any_engine, None)
    if any_settings.is_sqlite:
        for batch in (1, 2, 3):
            other = _home_with_keys(tmp_path, f"home{batch}", any_settings, None)
            engine = make_engine(other)
            upgrade(engine)
            try:
                assert run(other, engine, batch) == whole
            finally:
                engine.dispose()
    else:
        _wipe_customers(any_engine)
        # history ids keep counting on the same database; compare everything else
        strip = {k: [{c: v for c, v in r.items() if c != "id"} for r in rows] for k, rows in whole.items()}
        again = run(any_settings, any_engine, 2)
        assert {k: [{c: v for c, v in r.items() if c != "id"} for r in rows] for k, rows in again.items()} == strip


def test_column_encryption_matches_the_single_value_format(tmp_path: Path) -> None:
    cipher = FieldCipher(KeyRing.generate())
    values = ["13812345678", None, "上海市浦东新区", "", ID_X]
    tokens = cipher.encrypt_many(values, context="phone")
    assert tokens[1] is None
    assert [cipher.decrypt(t, context="phone") for t in tokens] == values
    assert all(t is None or t.startswith(f"{cipher.ring.active_key_id}$") for t in tokens)
    single = cipher.encrypt("13812345678", context="phone")
    assert single is not None and tokens[0] is not None and len(single) == len(tokens[0])
    assert len({t for t in cipher.encrypt_many(["same"] * 50, context="x")}) == 50  # a fresh nonce each
    with pytest.raises(InvalidTag):
        cipher.decrypt(tokens[0], context="address")  # still bound to its field
    assert cipher.blind_index_many(values, field="phone") == [cipher.blind_index(v, field="phone") for v in values]
    assert cipher.encrypt_many([], context="phone") == [] and cipher.blind_index_many([], field="phone") == []


def test_a_first_load_keeps_every_index(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    def indexes() -> list[tuple[str, str | None]]:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
            return [(r[0], r[1]) for r in rows]

    before = indexes()
    assert any(name == "ix_customers_phone_bidx" for name, _ in before)
    assert load(settings, engine, write_bundle(tmp_path / "b", _bigger_bundle())).ok
    assert indexes() == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT customer_id FROM customers WHERE phone_bidx = 'x'").all()
    assert "ix_customers_phone_bidx" in str(plan)


def test_later_files_check_references_against_the_keys_this_load_applied(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_back: list[str] = []
    real_keys = repository.keys

    def keys(conn: Any, table_name: str) -> Any:
        read_back.append(table_name)
        return real_keys(conn, table_name)

    monkeypatch.setattr(repository, "keys", keys)
    bundle = _bigger_bundle()
    bundle["customers"][3]["phone"] = "bad"  # rejected, so its account is an unknown key
    report = load(settings, engine, write_bundle(tmp_path / "b1", bundle))
    assert read_back == ["branches"]  # only the self-reference, before branches is applied
    assert report.files["accounts"].reasons == {"unknown_key": 1}
    assert report.files["transactions"].rejected == 0 and report.files["behavior_events"].rejected == 0

    # a later bundle without customers reads them from the database, where the first load left them
    read_back.clear()
    rejected_customer = bundle["customers"][3]["customer_id"]
    accounts = [
        dict(bundle["accounts"][0], account_id="A900"),
        dict(bundle["accounts"][0], account_id="A901", customer_id=rejected_customer),
    ]
    report = load(settings, engine, write_bundle(tmp_path / "b2", {"accounts": accounts}))
    assert sorted(read_back) == ["customers", "products"]
    assert report.files["accounts"].accepted == 1 and report.files["accounts"].reasons == {"unknown_key": 1}
