"""Tiny hand-made extract bundles for the loader tests."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from bankcrm.config import Settings
from bankcrm.customers.identity import id_check_char
from bankcrm.ingest.report import LoadReport
from bankcrm.ingest.service import ingest_bundle

Rows = list[dict[str, Any]]
Bundle = dict[str, Rows]


def id_number(first17: str) -> str:
    return first17 + id_check_char(first17)


ID1 = id_number("11010519900307123")
ID2 = id_number("31010419851112456")
ID3 = id_number("44030519700101789")
ID_X = "11010519491231002X"  # a real number whose check character is X
PHONE1, PHONE2, PHONE3 = "13812345678", "13987654321", "15011112222"


def base_bundle() -> Bundle:
    """A small, fully valid bundle (every row accepted)."""
    return copy.deepcopy(
        {
            "branches": [
                {"branch_id": "B001", "name": "Head office", "city": "Shanghai", "parent_id": ""},
                {"branch_id": "B002", "name": "Pudong", "city": "Shanghai", "parent_id": "B001"},
            ],
            "staff": [
                {
                    "staff_id": "S001",
                    "name": "王芳",
                    "role": "rm",
                    "branch_id": "B002",
                    "level": "senior",
                    "skills": "fund;wealth",
                    "team_id": "T01",
                    "capacity": "300",
                },
                {
                    "staff_id": "S002",
                    "name": "李强",
                    "role": "team_lead",
                    "branch_id": "B002",
                    "level": "",
                    "skills": "",
                    "team_id": "T01",
                    "capacity": "",
                },
            ],
            "customers": [
                _customer("C001", ID1, PHONE1, rm_id="S001", consent="Y"),
                _customer("C002", ID2, PHONE2, rm_id="S001", consent="N"),
                _customer("C003", ID3, PHONE3, rm_id="", consent=""),
            ],
            "products": [
                {"product_id": "P_DEP", "name": "Current account", "category": "deposit_current", "risk_level": ""},
                {"product_id": "P_FUND", "name": "Balanced fund", "category": "fund", "risk_level": "R3"},
                {"product_id": "P_MORT", "name": "Mortgage", "category": "loan_mortgage", "risk_level": ""},
            ],
            "accounts": [
                _account("A001", "C001", "P_DEP", number="6222020000000001"),
                _account("A002", "C002", "P_FUND"),
                _account("A003", "C003", "P_MORT", next_due_on="2026-04-05", amount_due="3500.00"),
            ],
            "balances": [
                {"account_id": "A001", "date": "2026-02-28", "balance": "1000.00"},
                {"account_id": "A001", "date": "2026-03-05", "balance": "2500.50"},
                {"account_id": "A002", "date": "2026-03-01", "balance": "50000.00"},
            ],
            "transactions": [
                _tx("T001", "A001", "2026-03-05T09:30:00+08:00", "1500.50", counterparty="ACME Trading Co"),
                _tx("T002", "A001", "2026-03-06T10:00:00+08:00", "-20.00", category="purchase", merchant="baby"),
                _tx("T003", "A002", "2026-03-07T11:00:00+08:00", "-1000.00", category="investment"),
            ],
            "behavior_events": [
                {"customer_id": "C001", "ts": "2026-03-05T08:00:00+08:00", "event": "app_login"},
                {"customer_id": "C002", "ts": "2026-03-06T21:15:00+08:00", "event": "view_fund"},
            ],
        }
    )


def _customer(cid: str, idn: str, phone: str, *, rm_id: str, consent: str) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "name": "张伟",
        "gender": "M",
        "birth_date": "1990-03-07",
        "id_number": idn,
        "phone": phone,
        "city": "Shanghai",
        "occupation": "professional",
        "income_monthly": "25000.00",
        "onboard_date": "2020-05-01",
        "branch_id": "B002",
        "rm_id": rm_id,
        "marketing_consent": consent,
        "risk_level": "C3",
        "risk_assessed_on": "2025-06-01",
        "address": "上海市浦东新区世纪大道100号",
        "email": f"{cid.lower()}@example.com",
    }


def _account(aid: str, cid: str, pid: str, **extra: str) -> dict[str, Any]:
    row = {
        "account_id": aid,
        "customer_id": cid,
        "product_id": pid,
        "opened_on": "2021-01-10",
        "maturity_on": "",
        "closed_on": "",
        "next_due_on": "",
        "amount_due": "",
        "days_past_due": "0",
        "account_number": "",
    }
    row.update({("account_number" if k == "number" else k): v for k, v in extra.items()})
    return row


def _tx(
    tx_id: str,
    account_id: str,
    ts: str,
    amount: str,
    *,
    category: str = "transfer_in",
    merchant: str = "",
    counterparty: str = "",
) -> dict[str, Any]:
    return {
        "tx_id": tx_id,
        "account_id": account_id,
        "ts": ts,
        "amount": amount,
        "channel": "mobile",
        "category": category,
        "merchant_group": merchant,
        "counterparty": counterparty,
    }


def write_bundle(folder: Path, bundle: Bundle, fmt: str = "csv") -> Path:
    """Write each file of the bundle (CSV, or Parquet with every column as text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in bundle.items():
        if fmt == "csv":
            write_csv(folder / f"{name}.csv", rows)
        else:
            columns = list(rows[0]) if rows else []
            table = pa.table({c: pa.array([r.get(c) or None for r in rows], type=pa.string()) for c in columns})
            pq.write_table(table, folder / f"{name}.parquet")
    return folder


def write_csv(path: Path, rows: Rows, columns: list[str] | None = None) -> None:
    columns = columns or (list(rows[0]) if rows else ["customer_id", "ts", "event"])
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def load(settings: Settings, engine: Engine, folder: Path) -> LoadReport:
    return ingest_bundle(settings, engine, folder)


def lake_rows(settings: Settings, table: str) -> list[tuple[Any, ...]]:
    """Every row of a lake table, sorted, as plain tuples (for content comparisons)."""
    lake = settings.lake_dir
    if table in ("branches", "staff", "customers", "products", "accounts"):
        path = lake / "master" / f"{table}.parquet"
        if not path.exists():
            return []
        src = f"read_parquet('{path}')"
    else:
        if not any((lake / table).glob("month=*/*.parquet")):
            return []
        src = f"read_parquet('{lake / table}/month=*/*.parquet', hive_partitioning = true)"
    return sorted(duckdb.sql(f"SELECT * FROM {src}").fetchall(), key=repr)


def lake_files(settings: Settings) -> dict[str, tuple[int, bytes]]:
    """Path -> (mtime_ns, content) of every lake file, to prove a re-load touched nothing."""
    out = {}
    for p in sorted(settings.lake_dir.rglob("*.parquet")):
        out[str(p.relative_to(settings.lake_dir))] = (p.stat().st_mtime_ns, p.read_bytes())
    return out


def table_rows(engine: Engine, model: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(model.__table__))]


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
