"""Every rejection reason, on every file where it applies, with its precedence and the reject store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ingest_bundles import ID1, ID_X, PHONE1, base_bundle, load, write_bundle
from sqlalchemy import Engine

from bankcrm.config import Settings
from bankcrm.ingest import repository
from bankcrm.security.crypto import cipher_for

# (file, row index, changed columns, expected reason, expected field)
CASES: list[tuple[str, int, dict[str, str], str, str]] = [
    ("branches", 1, {"name": ""}, "missing_required", "name"),
    ("staff", 1, {"role": ""}, "missing_required", "role"),
    ("customers", 2, {"name": ""}, "missing_required", "name"),
    ("customers", 2, {"id_number": ""}, "missing_required", "id_number"),
    ("products", 1, {"category": ""}, "missing_required", "category"),
    ("products", 1, {"risk_level": ""}, "missing_required", "risk_level"),  # a fund needs a risk level
    ("accounts", 2, {"opened_on": ""}, "missing_required", "opened_on"),
    ("balances", 2, {"balance": ""}, "missing_required", "balance"),
    ("transactions", 2, {"ts": ""}, "missing_required", "ts"),
    ("behavior_events", 1, {"event": ""}, "missing_required", "event"),
    ("staff", 0, {"capacity": "many"}, "bad_type", "capacity"),
    ("customers", 2, {"birth_date": "1990/03/07"}, "bad_type", "birth_date"),
    ("customers", 2, {"onboard_date": "2020-02-30"}, "bad_type", "onboard_date"),
    ("customers", 2, {"income_monthly": "lots"}, "bad_type", "income_monthly"),
    ("products", 0, {"term_days": "3.5"}, "bad_type", "term_days"),
    ("products", 0, {"expected_yield": "high"}, "bad_type", "expected_yield"),
    ("accounts", 2, {"amount_due": "12.345"}, "bad_type", "amount_due"),
    ("accounts", 2, {"days_past_due": "x"}, "bad_type", "days_past_due"),
    ("balances", 2, {"date": "2026-13-01"}, "bad_type", "date"),
    ("balances", 2, {"balance": "1,000.00"}, "bad_type", "balance"),
    ("transactions", 2, {"ts": "2026-03-07T11:00:00"}, "bad_type", "ts"),  # no offset
    ("transactions", 2, {"amount": "abc"}, "bad_type", "amount"),
    ("behavior_events", 1, {"ts": "yesterday"}, "bad_type", "ts"),
    ("staff", 1, {"role": "ceo"}, "invalid_value", "role"),
    ("staff", 1, {"level": "guru"}, "invalid_value", "level"),
    ("staff", 0, {"skills": "fund;golf"}, "invalid_value", "skills"),
    ("customers", 2, {"gender": "X"}, "invalid_value", "gender"),
    ("customers", 2, {"occupation": "pilot"}, "invalid_value", "occupation"),
    ("customers", 2, {"marketing_consent": "yes"}, "invalid_value", "marketing_consent"),
    ("customers", 2, {"risk_level": "C9"}, "invalid_value", "risk_level"),
    ("products", 0, {"category": "crypto"}, "invalid_value", "category"),
    ("products", 1, {"risk_level": "R7"}, "invalid_value", "risk_level"),
    ("products", 0, {"is_agency": "maybe"}, "invalid_value", "is_agency"),
    ("accounts", 2, {"days_past_due": "-3"}, "invalid_value", "days_past_due"),
    ("transactions", 2, {"channel": "fax"}, "invalid_value", "channel"),
    ("transactions", 2, {"category": "gift"}, "invalid_value", "category"),
    ("customers", 2, {"id_number": ID1[:17] + ("0" if ID1[17] != "0" else "1")}, "id_checksum", "id_number"),
    ("customers", 2, {"id_number": "11010519900307"}, "id_checksum", "id_number"),
    ("customers", 2, {"phone": "23812345678"}, "bad_phone", "phone"),
    ("customers", 2, {"phone": "1381234567"}, "bad_phone", "phone"),
    ("branches", 1, {"parent_id": "B999"}, "unknown_key", "parent_id"),
    ("staff", 1, {"branch_id": "B999"}, "unknown_key", "branch_id"),
    ("customers", 2, {"branch_id": "B999"}, "unknown_key", "branch_id"),
    ("accounts", 2, {"customer_id": "C999"}, "unknown_key", "customer_id"),
    ("accounts", 2, {"product_id": "P999"}, "unknown_key", "product_id"),
    ("balances", 2, {"account_id": "A999"}, "unknown_key", "account_id"),
    ("transactions", 2, {"account_id": "A999"}, "unknown_key", "account_id"),
    ("behavior_events", 1, {"customer_id": "C999"}, "unknown_key", "customer_id"),
]

DUPLICATE_CASES = [
    "branches",
    "staff",
    "customers",
    "products",
    "accounts",
    "balances",
    "transactions",
    "behavior_events",
]


def _report_and_rejects(
    settings: Settings, engine: Engine, folder: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    report = load(settings, engine, folder)
    assert report.ok
    with engine.connect() as conn:
        stored = repository.rejects_of_load(conn, report.load_id or 0)
    return report.to_json(), stored


@pytest.mark.parametrize(("file", "index", "changes", "reason", "field"), CASES)
def test_each_reason(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    file: str,
    index: int,
    changes: dict[str, str],
    reason: str,
    field: str,
) -> None:
    bundle = base_bundle()
    bundle[file][index].update(changes)
    report, stored = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    counts = report["files"][file]
    assert counts["rejected"] == 1, counts
    assert counts["reasons"] == {reason: 1}
    assert counts["read"] == counts["accepted"] + counts["rejected"] == len(bundle[file])
    mine = [r for r in stored if r["file"] == file]
    assert [(r["line"], r["reason"], r["field"]) for r in mine] == [(index + 2, reason, field)]
    assert mine[0]["detail"]


@pytest.mark.parametrize("file", DUPLICATE_CASES)
def test_duplicate_key_first_row_wins(settings: Settings, engine: Engine, tmp_path: Path, file: str) -> None:
    bundle = base_bundle()
    first = dict(bundle[file][0])
    changed = dict(first)
    # the duplicate differs in a non-key column; the first row's value must be the one loaded
    non_key = {"branches": "city", "staff": "level", "customers": "city", "products": "name", "accounts": "opened_on"}
    if file in non_key:
        changed[non_key[file]] = "senior" if file == "staff" else ("2022-02-02" if file == "accounts" else "Other")
    bundle[file].append(changed)
    report, stored = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report["files"][file]["reasons"] == {"duplicate_key": 1}
    dup = [r for r in stored if r["file"] == file]
    assert dup[0]["line"] == len(bundle[file]) + 1
    assert dup[0]["detail"] == "key already accepted at line 2"
    if file == "customers":
        with engine.connect() as conn:
            from sqlalchemy import text

            city = conn.execute(text("select city from customers where customer_id = 'C001'")).scalar_one()
        assert city == first["city"]


def test_precedence_of_reasons(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    c = bundle["customers"]
    template = dict(c[2])
    rows = [
        {"customer_id": "C101", "name": "", "birth_date": "bad", "phone": "1"},  # missing beats bad type
        {"customer_id": "C102", "birth_date": "bad", "gender": "X"},  # bad type beats invalid value
        {"customer_id": "C103", "gender": "X", "id_number": "123"},  # invalid value beats checksum
        {"customer_id": "C104", "id_number": "123", "phone": "1"},  # checksum beats phone
        {"customer_id": "C105", "phone": "1", "branch_id": "B999"},  # phone beats unknown key
        {"customer_id": "C001", "branch_id": "B999"},  # unknown key beats duplicate
    ]
    c += [{**template, **r} for r in rows]
    _report, stored = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    got = [(r["line"], r["reason"]) for r in stored if r["file"] == "customers"]
    assert got == [
        (5, "missing_required"),
        (6, "bad_type"),
        (7, "invalid_value"),
        (8, "id_checksum"),
        (9, "bad_phone"),
        (10, "unknown_key"),
    ]


def test_duplicate_only_of_an_accepted_row(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    """A later row with the key of a rejected row is not a duplicate: it is the first surviving one."""
    bundle = base_bundle()
    bundle["customers"][0]["phone"] = "999"
    bundle["customers"].append(dict(bundle["customers"][0], phone=PHONE1))
    report, _stored = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report["files"]["customers"] == {
        "read": 4,
        "accepted": 3,
        "rejected": 1,
        "warnings": 0,
        "reasons": {"bad_phone": 1},
    }


def test_unknown_rm_is_accepted_unassigned_with_a_warning(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["customers"][1]["rm_id"] = "S404"
    report, _ = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report["files"]["customers"] == {"read": 3, "accepted": 3, "rejected": 0, "warnings": 1, "reasons": {}}
    assert report["warnings"] == {"customers": {"unknown_rm": 1}}
    with engine.connect() as conn:
        from sqlalchemy import text

        assert conn.execute(text("select rm_id from customers where customer_id = 'C002'")).scalar_one() is None


def test_child_of_rejected_parent_is_unknown_key(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["customers"][0]["phone"] = "12"  # C001 rejected -> A001, its balances and transactions too
    bundle["branches"].append({"branch_id": "B003", "name": "", "city": "", "parent_id": ""})
    bundle["branches"].append({"branch_id": "B004", "name": "Child of rejected", "city": "", "parent_id": "B003"})
    report, _ = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    files = report["files"]
    assert files["branches"]["reasons"] == {"missing_required": 1, "unknown_key": 1}
    assert files["accounts"]["reasons"] == {"unknown_key": 1}
    assert files["balances"]["reasons"] == {"unknown_key": 2}
    assert files["transactions"]["reasons"] == {"unknown_key": 2}
    assert files["behavior_events"]["reasons"] == {"unknown_key": 1}


def test_lower_case_x_check_character_is_accepted(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["customers"][2]["id_number"] = ID_X.lower()
    report, _ = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report["files"]["customers"]["rejected"] == 0
    cipher = cipher_for(settings.effective_key_file)
    with engine.connect() as conn:
        from sqlalchemy import text

        bidx = conn.execute(text("select id_number_bidx from customers where customer_id = 'C003'")).scalar_one()
    assert bidx == cipher.blind_index(ID_X, field="id_number")


def test_reject_store_keeps_the_raw_row_encrypted(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    bundle = base_bundle()
    bundle["customers"][2]["phone"] = "23812345678"
    _report, stored = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    (row,) = [r for r in stored if r["file"] == "customers"]
    assert bundle["customers"][2]["id_number"] not in row["raw_enc"]
    assert "23812345678" not in row["raw_enc"]
    raw = json.loads(cipher_for(settings.effective_key_file).decrypt(row["raw_enc"], context="ingest_reject") or "")
    assert raw["phone"] == "23812345678"
    assert raw["customer_id"] == "C003"


def test_unknown_columns_ignored_and_missing_optional_columns_null(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    bundle = base_bundle()
    for row in bundle["customers"]:
        row["favourite_colour"] = "blue"
        for optional in ("city", "occupation", "income_monthly", "address", "email", "risk_assessed_on"):
            del row[optional]
    report, _ = _report_and_rejects(settings, engine, write_bundle(tmp_path / "b", bundle))
    assert report["files"]["customers"]["accepted"] == 3
