"""The reject store: every rejected row with its file, line, reason, column and the raw row (encrypted)."""

from __future__ import annotations

from typing import Any

import duckdb
from sqlalchemy import Connection

from bankcrm.ingest import repository
from bankcrm.ingest.reader import LINE, q
from bankcrm.ingest.spec import (
    BAD_PHONE,
    BAD_TYPE,
    DUPLICATE_KEY,
    ID_CHECKSUM,
    INVALID_VALUE,
    MISSING_REQUIRED,
    UNKNOWN_KEY,
    FileSpec,
)
from bankcrm.ingest.validators import BAD_TYPE_DETAIL, FAULT, RAW
from bankcrm.security.crypto import FieldCipher

RAW_CONTEXT = "ingest_reject"
_BATCH_ROWS = 5000


def _detail(spec: FileSpec, reason: str, field: str, first_line: str) -> str:
    if reason == MISSING_REQUIRED:
        return "required value is empty"
    if reason == BAD_TYPE:
        return BAD_TYPE_DETAIL.get(spec.column(field).kind, "wrong type")
    if reason == INVALID_VALUE:
        col = spec.column(field)
        if col.choices:
            return "not one of: " + ", ".join(col.choices)
        if col.kind == "yn":
            return "not Y or N"
        if col.kind == "skills":
            return "a skill is not a product category"
        return "must not be negative"
    if reason == ID_CHECKSUM:
        return "not 17 digits and a GB 11643 check character that matches"
    if reason == BAD_PHONE:
        return "not 11 digits starting with 1"
    if reason == UNKNOWN_KEY:
        parent = next(fk.parent for fk in spec.foreign_keys if fk.column == field)
        return f"no {parent} with this key, neither loaded before nor accepted in this bundle"
    if reason == DUPLICATE_KEY:
        return f"key already accepted at line {first_line}"
    return reason


def store(
    con: duckdb.DuckDBPyConnection, conn: Connection, cipher: FieldCipher, load_id: int, spec: FileSpec, table: str
) -> int:
    """Copy the rejected rows of a staged file into ``ingest_rejects``; returns how many."""
    # rows rejected after the row-level checks carry no raw text; their typed values stand in for it
    typed = ", ".join(f"{q(c.name)} := CAST({q(c.name)} AS VARCHAR)" for c in spec.columns)
    cur = con.execute(
        f"""SELECT {LINE}, {FAULT}, COALESCE({RAW}, to_json(struct_pack({typed})))
            FROM {table} WHERE {FAULT} IS NOT NULL ORDER BY {LINE}"""
    )
    stored = 0
    while True:
        batch = cur.fetchmany(_BATCH_ROWS)
        if not batch:
            break
        rows: list[dict[str, Any]] = []
        for line, fault, raw in batch:
            reason, _, field = fault.partition(":")
            field, _, first_line = field.partition(":")
            rows.append(
                {
                    "load_id": load_id,
                    "file": spec.name,
                    "line": int(line),
                    "reason": reason,
                    "field": field[:64] or None,
                    "detail": _detail(spec, reason, field, first_line)[:400],
                    "raw_enc": cipher.encrypt(raw, context=RAW_CONTEXT),
                }
            )
        repository.insert_rejects(conn, rows)
        stored += len(rows)
    return stored
