"""Master data (branches, staff, customers, products, accounts) into the operational database.

Rows are compared with what is stored through a keyed fingerprint of their extract values, so
only new or changed rows are encrypted and written; a re-loaded bundle writes nothing. For
customers a second fingerprint over the contact fields decides whether a new contact version
starts, and the stored consent flag whether a consent event is recorded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection

from bankcrm import lake
from bankcrm.ingest import repository
from bankcrm.ingest.lake_writer import duck_type
from bankcrm.ingest.spec import FileSpec
from bankcrm.ingest.validators import FAULT, q
from bankcrm.security.crypto import FieldCipher

_BATCH_ROWS = 20_000
CONTACT_FIELDS = ("phone", "address", "email", "occupation", "income_monthly")
EXTRACT = "extract"


def _fingerprint(columns: tuple[str, ...], key: str) -> str:
    fields = ", ".join(f"{q(c)} := CAST({q(c)} AS VARCHAR)" for c in columns)
    assert all(ch in "0123456789abcdef" for ch in key)  # inlined: a hex string cannot break out of the literal
    return f"sha256('{key}' || to_json(struct_pack({fields})))"


def lake_view_sql(spec: FileSpec, table: str) -> str:
    """The accepted rows as lake.MASTER_SCHEMAS columns (no names, ID numbers or phones)."""
    exprs = []
    for f in lake.MASTER_SCHEMAS[spec.name]:
        if f.type == pa.bool_():
            exprs.append(f"({q(f.name)} = 'Y') AS {q(f.name)}")
        else:
            exprs.append(f"CAST({q(f.name)} AS {duck_type(f.type)}) AS {q(f.name)}")
    return f"SELECT {', '.join(exprs)} FROM {table} WHERE {FAULT} IS NULL"


def apply(
    con: duckdb.DuckDBPyConnection,
    conn: Connection,
    spec: FileSpec,
    table: str,
    cipher: FieldCipher,
    fingerprint_key: str,
) -> int:
    """Upsert the accepted rows of ``table`` that are new or changed; returns how many were written."""
    state = repository.master_state(conn, spec.name)
    con.register("db_state", state)
    key = q(spec.key[0])
    names = tuple(c.name for c in spec.columns)
    extra_cols = ""
    extra_state = ""
    if spec.name == "customers":
        extra_cols = f", {_fingerprint(CONTACT_FIELDS, fingerprint_key)} AS __contact_fp"
        extra_state = (
            ", d.contact_fp AS __old_contact_fp, d.consent AS __old_consent, d.contact_version AS __old_version"
        )
    fingerprint = _fingerprint(names, fingerprint_key)
    sql = f"""
        SELECT c.*, d.k IS NOT NULL AS __exists {extra_state}
        FROM (SELECT *, {fingerprint} AS __fp {extra_cols} FROM {table} WHERE {FAULT} IS NULL) c
        LEFT JOIN db_state d ON d.k = c.{key}
        WHERE d.fp IS DISTINCT FROM c.__fp
        ORDER BY c.__line
    """
    reader = con.sql(sql).to_arrow_reader(_BATCH_ROWS)
    assert reader is not None
    now = repository.now()
    written = 0
    pending_branches: list[dict[str, Any]] = []
    for batch in reader:
        rows = batch.to_pylist()
        written += len(rows)
        if spec.name == "branches":
            pending_branches += [_branch(r, now) for r in rows]
        elif spec.name == "staff":
            _apply_staff(conn, rows, now)
        elif spec.name == "customers":
            _apply_customers(conn, rows, cipher, now)
        elif spec.name == "products":
            repository.upsert(conn, "products", [_product(r, now) for r in rows])
        elif spec.name == "accounts":
            repository.upsert(conn, "accounts", [_account(r, cipher, now) for r in rows])
    if pending_branches:
        repository.upsert(conn, "branches", _parents_first(pending_branches))
    con.unregister("db_state")
    return written


def _stamp(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    row["source_fingerprint"] = row.pop("__fp")
    row["created_at"] = now
    row["updated_at"] = now
    return row


def _branch(r: dict[str, Any], now: datetime) -> dict[str, Any]:
    return _stamp({k: r[k] for k in ("branch_id", "name", "city", "parent_id", "__fp")}, now)


def _parents_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order branches so a parent is written before its children (foreign keys are checked at once)."""
    pending = {r["branch_id"]: r for r in rows}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()
    while pending:
        ready = [b for b, r in pending.items() if r["parent_id"] in placed or r["parent_id"] not in pending]
        if not ready:  # a cycle: write the rest in file order; the database will refuse if it is real
            ready = list(pending)
        for b in ready:
            ordered.append(pending.pop(b))
            placed.add(b)
    return ordered


def _apply_staff(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    teams = {r["team_id"]: r["branch_id"] for r in rows if r["team_id"]}
    repository.ensure_teams(conn, [{"team_id": t, "name": t, "branch_id": b} for t, b in teams.items()])
    out = []
    for r in rows:
        row = {
            k: r[k] for k in ("staff_id", "name", "role", "branch_id", "team_id", "level", "skills", "capacity", "__fp")
        }
        row["active"] = True
        out.append(_stamp(row, now))
    repository.upsert(conn, "staff", out)


def _product(r: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {k: r[k] for k in ("product_id", "name", "category", "risk_level", "term_days", "__fp")}
    y = r["expected_yield"]
    row["expected_yield"] = None if y is None else Decimal(repr(round(y, 6)))
    row["is_agency"] = r["is_agency"] == "Y"
    return _stamp(row, now)


def _account(r: dict[str, Any], cipher: FieldCipher, now: datetime) -> dict[str, Any]:
    row = {
        k: r[k]
        for k in (
            "account_id",
            "customer_id",
            "product_id",
            "opened_on",
            "maturity_on",
            "closed_on",
            "next_due_on",
            "amount_due",
            "days_past_due",
            "__fp",
        )
    }
    number = r["account_number"]
    row["account_number_enc"] = cipher.encrypt(number, context="account_number")
    row["account_number_bidx"] = cipher.blind_index(number, field="account_number")
    return _stamp(row, now)


def _apply_customers(conn: Connection, rows: list[dict[str, Any]], cipher: FieldCipher, now: datetime) -> None:
    customers: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    encrypt, blind = cipher.encrypt, cipher.blind_index
    for r in rows:
        cid = r["customer_id"]
        id_number = r["id_number"].upper()  # a lower-case check character x is the same number
        phone = r["phone"]
        consent = r["marketing_consent"] == "Y"
        phone_enc = encrypt(phone, context="phone")
        address_enc = encrypt(r["address"], context="address")
        email_enc = encrypt(r["email"], context="email")
        version = r["__old_version"] or 0
        if not r["__exists"] or r["__old_contact_fp"] != r["__contact_fp"]:
            version += 1
            versions.append(
                {
                    "customer_id": cid,
                    "version": version,
                    "phone_enc": phone_enc,
                    "address_enc": address_enc,
                    "email_enc": email_enc,
                    "occupation": r["occupation"],
                    "income_monthly": r["income_monthly"],
                    "changed_at": now,
                    "changed_by": None,
                    "source": EXTRACT,
                    "reason": "first load" if version == 1 else "changed in extract",
                }
            )
        if not r["__exists"] or r["__old_consent"] != consent:
            consents.append(
                {
                    "customer_id": cid,
                    "consent": consent,
                    "channel": EXTRACT,
                    "recorded_at": now,
                    "recorded_by": None,
                    "note": "first seen in extract" if not r["__exists"] else "changed in extract",
                }
            )
        customers.append(
            {
                "customer_id": cid,
                "customer_type": "personal",
                "name": r["name"],
                "gender": r["gender"],
                "birth_date": r["birth_date"],
                "id_number_enc": encrypt(id_number, context="id_number"),
                "id_number_bidx": blind(id_number, field="id_number"),
                "phone_enc": phone_enc,
                "phone_bidx": blind(phone, field="phone"),
                "address_enc": address_enc,
                "email_enc": email_enc,
                "city": r["city"],
                "occupation": r["occupation"],
                "income_monthly": r["income_monthly"],
                "onboard_date": r["onboard_date"],
                "branch_id": r["branch_id"],
                "rm_id": r["rm_id"],
                "extract_rm_id": r["rm_id"],
                "marketing_consent": consent,
                "risk_level": r["risk_level"],
                "risk_assessed_on": r["risk_assessed_on"],
                "contact_version": version,
                "source_fingerprint": r["__fp"],
                "contact_fingerprint": r["__contact_fp"],
                "created_at": now,
                "updated_at": now,
            }
        )
    repository.upsert(conn, "customers", customers)
    repository.insert_contact_versions(conn, versions)
    repository.insert_consent_events(conn, consents)
