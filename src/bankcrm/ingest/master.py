"""Master data (branches, staff, customers, products, accounts) into the operational database.

Rows are compared with what is stored through a keyed fingerprint of their extract values, so
only new or changed rows are encrypted and written; a re-loaded bundle writes nothing. For
customers a second fingerprint over the contact fields decides whether a new contact version
starts, and the stored consent flag whether a consent event is recorded.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection

from bankcrm import lake
from bankcrm.ingest import repository
from bankcrm.ingest.lake_writer import duck_type
from bankcrm.ingest.reader import LINE, q
from bankcrm.ingest.spec import FileSpec
from bankcrm.ingest.validators import FAULT, RAW, WARNING
from bankcrm.security.crypto import FieldCipher

_BATCH_ROWS = 20_000
# big tables whose indexes are built after a first load fills them (SQLite)
_INDEXES_AFTER = ("customers", "accounts")
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


@dataclass(frozen=True)
class Applied:
    written: int  # rows inserted or updated
    keys: pa.Table  # one column ``k``: every key of the table after the write, as repository.keys gives it


def apply(
    con: duckdb.DuckDBPyConnection,
    conn: Connection,
    spec: FileSpec,
    table: str,
    cipher: FieldCipher,
    fingerprint_key: str,
) -> Applied:
    """Upsert the accepted rows of ``table`` that are new or changed; returns how many, and the table's keys."""
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
        SELECT c.* EXCLUDE ({RAW}, {FAULT}, {WARNING}, {LINE}), d.k IS NOT NULL AS __exists {extra_state}
        FROM (SELECT *, {fingerprint} AS __fp {extra_cols} FROM {table} WHERE {FAULT} IS NULL) c
        LEFT JOIN db_state d ON d.k = c.{key}
        WHERE d.fp IS DISTINCT FROM c.__fp
        ORDER BY c.__line
    """
    with ExitStack() as stack:
        if state.num_rows == 0 and spec.name in _INDEXES_AFTER:
            stack.enter_context(repository.indexes_built_after(conn, spec.name))
        written = _write(con.sql(sql), conn, spec, cipher)
    # every key the table holds now: the stored ones and this file's accepted ones (the only writer is this load)
    keys = con.sql(f"SELECT k FROM db_state UNION SELECT {key} AS k FROM {table} WHERE {FAULT} IS NULL")
    known = keys.to_arrow_table()
    con.unregister("db_state")
    return Applied(written, known)


def _write(rel: duckdb.DuckDBPyRelation, conn: Connection, spec: FileSpec, cipher: FieldCipher) -> int:
    reader = rel.to_arrow_reader(_BATCH_ROWS)
    assert reader is not None
    now = repository.now()
    written = 0
    pending_branches: list[dict[str, Any]] = []
    columnar: _CustomerWriter | _AccountWriter | None = None
    if spec.name == "customers":
        columnar = _CustomerWriter(conn, cipher, now)
    elif spec.name == "accounts":
        columnar = _AccountWriter(conn, cipher, now)
    for batch in reader:
        written += batch.num_rows
        if columnar is not None:
            # whole columns at a time: one Python list per column, rows only as the tuples handed to the driver
            columnar.write({name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)})
            continue
        rows = batch.to_pylist()
        if spec.name == "branches":
            pending_branches += [_branch(r, now) for r in rows]
        elif spec.name == "staff":
            _apply_staff(conn, rows, now)
        elif spec.name == "products":
            repository.upsert(conn, "products", [_product(r, now) for r in rows])
    if pending_branches:
        ordered, completed = _parents_first(pending_branches)
        repository.upsert(conn, "branches", ordered)
        if completed:
            repository.upsert(conn, "branches", completed)
    return written


def _stamp(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    row["source_fingerprint"] = row.pop("__fp")
    row["created_at"] = now
    row["updated_at"] = now
    return row


def _branch(r: dict[str, Any], now: datetime) -> dict[str, Any]:
    return _stamp({k: r[k] for k in ("branch_id", "name", "city", "parent_id", "__fp")}, now)


def _parents_first(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Order branches so a parent is written before its children (foreign keys are checked at once).

    Branches whose parents form a cycle among the new rows (A under B, B under A) cannot be
    ordered: they are written first without a parent and get it from the second list, written
    after the first.
    """
    pending = {r["branch_id"]: r for r in rows}
    ordered: list[dict[str, Any]] = []
    completed: list[dict[str, Any]] = []
    placed: set[str] = set()
    while pending:
        ready = [b for b, r in pending.items() if r["parent_id"] in placed or r["parent_id"] not in pending]
        if not ready:  # only cycles are left
            for r in pending.values():
                ordered.append({**r, "parent_id": None})
                completed.append(r)
            break
        for b in ready:
            ordered.append(pending.pop(b))
            placed.add(b)
    return ordered, completed


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


Columns = dict[str, list[Any]]


def _split(exists: list[bool], rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows whose key is new (a plain insert) and rows that exist (an upsert)."""
    if not any(exists):
        return rows, []
    if all(exists):
        return [], rows
    return [r for r, e in zip(rows, exists, strict=True) if not e], [r for r, e in zip(rows, exists, strict=True) if e]


class _AccountWriter:
    COLUMNS = (
        "account_id",
        "customer_id",
        "product_id",
        "opened_on",
        "maturity_on",
        "closed_on",
        "next_due_on",
        "amount_due",
        "days_past_due",
        "account_number_enc",
        "account_number_bidx",
        "source_fingerprint",
        "created_at",
        "updated_at",
    )

    def __init__(self, conn: Connection, cipher: FieldCipher, now: datetime) -> None:
        self.cipher = cipher
        self.writer = repository.RowWriter(conn, repository.MASTER_TABLES["accounts"], self.COLUMNS)
        self.created_at = self.writer.convert_one("created_at", now)

    def write(self, c: Columns) -> None:
        w = self.writer
        number = c["account_number"]
        n = len(number)
        stamp = [self.created_at] * n
        rows = list(
            zip(
                c["account_id"],
                c["customer_id"],
                c["product_id"],
                w.convert("opened_on", c["opened_on"]),
                w.convert("maturity_on", c["maturity_on"]),
                w.convert("closed_on", c["closed_on"]),
                w.convert("next_due_on", c["next_due_on"]),
                w.convert("amount_due", c["amount_due"]),
                c["days_past_due"],
                self.cipher.encrypt_many(number, context="account_number"),
                self.cipher.blind_index_many(number, field="account_number"),
                c["__fp"],
                stamp,
                stamp,
                strict=True,
            )
        )
        new, existing = _split(c["__exists"], rows)
        w.insert(new)
        w.upsert(existing)


class _CustomerWriter:
    COLUMNS = (
        "customer_id",
        "customer_type",
        "name",
        "gender",
        "birth_date",
        "id_number_enc",
        "id_number_bidx",
        "phone_enc",
        "phone_bidx",
        "address_enc",
        "email_enc",
        "city",
        "occupation",
        "income_monthly",
        "onboard_date",
        "branch_id",
        "rm_id",
        "extract_rm_id",
        "marketing_consent",
        "risk_level",
        "risk_assessed_on",
        "contact_version",
        "source_fingerprint",
        "contact_fingerprint",
        "created_at",
        "updated_at",
    )
    VERSION_COLUMNS = (
        "customer_id",
        "version",
        "phone_enc",
        "address_enc",
        "email_enc",
        "occupation",
        "income_monthly",
        "changed_at",
        "changed_by",
        "source",
        "reason",
    )
    CONSENT_COLUMNS = ("customer_id", "consent", "channel", "recorded_at", "recorded_by", "note")

    def __init__(self, conn: Connection, cipher: FieldCipher, now: datetime) -> None:
        self.cipher = cipher
        self.customers = repository.RowWriter(conn, repository.MASTER_TABLES["customers"], self.COLUMNS)
        self.versions = repository.RowWriter(conn, repository.CONTACT_VERSIONS, self.VERSION_COLUMNS)
        self.consents = repository.RowWriter(conn, repository.CONSENT_EVENTS, self.CONSENT_COLUMNS)
        self.now = self.customers.convert_one("created_at", now)
        self.changed_at = self.versions.convert_one("changed_at", now)
        self.recorded_at = self.consents.convert_one("recorded_at", now)
        self.consent_values = {v: self.consents.convert_one("consent", v) for v in (True, False)}

    def write(self, c: Columns) -> None:
        encrypt, blind = self.cipher.encrypt_many, self.cipher.blind_index_many
        cids = c["customer_id"]
        n = len(cids)
        id_number = [v.upper() for v in c["id_number"]]  # a lower-case check character x is the same number
        phone = c["phone"]
        consent = [v == "Y" for v in c["marketing_consent"]]
        phone_enc = encrypt(phone, context="phone")
        address_enc = encrypt(c["address"], context="address")
        email_enc = encrypt(c["email"], context="email")
        occupation = c["occupation"]
        income = self.customers.convert("income_monthly", c["income_monthly"])
        income_v = self.versions.convert("income_monthly", c["income_monthly"])
        exists, contact_fp, old_contact_fp = c["__exists"], c["__contact_fp"], c["__old_contact_fp"]
        old_consent, old_version = c["__old_consent"], c["__old_version"]
        versions: list[tuple[Any, ...]] = []
        consents: list[tuple[Any, ...]] = []
        contact_version = []
        for i in range(n):
            version = old_version[i] or 0
            if not exists[i] or old_contact_fp[i] != contact_fp[i]:
                version += 1
                versions.append(
                    (
                        cids[i],
                        version,
                        phone_enc[i],
                        address_enc[i],
                        email_enc[i],
                        occupation[i],
                        income_v[i],
                        self.changed_at,
                        None,
                        EXTRACT,
                        "first load" if version == 1 else "changed in extract",
                    )
                )
            contact_version.append(version)
            if not exists[i] or old_consent[i] != consent[i]:
                consents.append(
                    (
                        cids[i],
                        self.consent_values[consent[i]],
                        EXTRACT,
                        self.recorded_at,
                        None,
                        "first seen in extract" if not exists[i] else "changed in extract",
                    )
                )
        w = self.customers
        stamp = [self.now] * n
        rows = list(
            zip(
                cids,
                ["personal"] * n,
                c["name"],
                c["gender"],
                w.convert("birth_date", c["birth_date"]),
                encrypt(id_number, context="id_number"),
                blind(id_number, field="id_number"),
                phone_enc,
                blind(phone, field="phone"),
                address_enc,
                email_enc,
                c["city"],
                occupation,
                income,
                w.convert("onboard_date", c["onboard_date"]),
                c["branch_id"],
                c["rm_id"],
                c["rm_id"],
                w.convert("marketing_consent", consent),
                c["risk_level"],
                w.convert("risk_assessed_on", c["risk_assessed_on"]),
                contact_version,
                c["__fp"],
                contact_fp,
                stamp,
                stamp,
                strict=True,
            )
        )
        new, existing = _split(exists, rows)
        w.insert(new)
        w.upsert(existing)
        self.versions.insert(versions)
        self.consents.insert(consents)
