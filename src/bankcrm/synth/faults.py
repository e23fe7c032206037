"""--inject-errors: known bad rows of every rejection kind, and the load report they should produce.

Each injected row carries exactly one fault, so its reason is unambiguous under the loader's
precedence (missing_required, bad_type, invalid_value, id_checksum, bad_phone, unknown_key,
duplicate_key). Rows whose fault is a value of the wrong type cannot exist in a typed Parquet
column, so Parquet bundles get every kind except ``bad_type``. ``expected_load.json`` has the
shape of ``bankcrm ingest --json`` plus the list of injected rows (1-based data row numbers;
the CSV line is one more because of the header).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from bankcrm.customers.identity import id_check_char
from bankcrm.synth.population import Context
from bankcrm.synth.writer import FILES, SCHEMAS, BundleWriter, Format, bundle_path

CST = timezone(timedelta(hours=8))
EPOCH = date(1970, 1, 1)

# keys the generator always writes: the first planted customer and its current account
KNOWN_CUSTOMER = "C000000001"
KNOWN_CUSTOMER_2 = "C000000002"
KNOWN_ACCOUNT = "A00000000100"
KNOWN_TX = "T000000001000000"
KNOWN_BRANCH = "BR1001"
KNOWN_PARENT = "BR1000"
KNOWN_STAFF = "S000001"


@dataclass
class Fault:
    file: str
    reason: str | None  # None: accepted
    field: str | None
    row: dict[str, object]
    warning: bool = False


def _id_number(region: str, born: date, seq: int, good: bool = True) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    check = id_check_char(body)
    if not good:
        check = "10X98765432"[("10X98765432".index(check) + 3) % 11]
    return body + check


def _customer(cid: str, **over: object) -> dict[str, object]:
    born = date(1985, 6, 15)
    row: dict[str, object] = {
        "customer_id": cid,
        "name": "测试客户",
        "gender": "M",
        "birth_date": born,
        "id_number": _id_number("310115", born, 100 + int(cid[-3:]) % 400 * 2 + 1),
        "phone": "13800138000",
        "city": "上海",
        "occupation": "employee",
        "income_monthly": Decimal("9000.00"),
        "onboard_date": date(2020, 3, 1),
        "branch_id": KNOWN_BRANCH,
        "rm_id": None,
        "marketing_consent": "N",
        "risk_level": "C2",
        "risk_assessed_on": date(2026, 1, 10),
        "address": None,
        "email": None,
    }
    row.update(over)
    return row


def _faults(as_of: date, first_day: date) -> list[Fault]:
    ts = datetime.combine(as_of, datetime.min.time(), CST).replace(hour=10)
    f: list[Fault] = []

    def add(file: str, reason: str | None, fld: str | None, row: dict[str, object], warning: bool = False) -> None:
        f.append(Fault(file, reason, fld, row, warning))

    branch = {"branch_id": "BR9001", "name": "测试支行", "city": "上海", "parent_id": KNOWN_PARENT}
    add("branches", "missing_required", "name", {**branch, "name": None})
    add("branches", "duplicate_key", "branch_id", {**branch, "branch_id": KNOWN_BRANCH, "name": "重复支行"})

    staff = {
        "name": "测试员工",
        "role": "rm",
        "branch_id": KNOWN_BRANCH,
        "level": "junior",
        "skills": "fund",
        "team_id": None,
        "capacity": None,
    }
    add("staff", "invalid_value", "role", {**staff, "staff_id": "S900001", "role": "manager"})
    add("staff", "invalid_value", "level", {**staff, "staff_id": "S900002", "level": "expert"})
    add("staff", "missing_required", "name", {**staff, "staff_id": "S900003", "name": None})
    add("staff", "unknown_key", "branch_id", {**staff, "staff_id": "S900004", "branch_id": "BR9999"})
    add("staff", "unknown_key", "branch_id", {**staff, "staff_id": "S900005", "branch_id": "BR9001"})  # parent rejected
    add("staff", "duplicate_key", "staff_id", {**staff, "staff_id": KNOWN_STAFF})

    born = date(1985, 6, 15)
    add(
        "customers",
        "id_checksum",
        "id_number",
        _customer("C900000001", id_number=_id_number("310115", born, 123, good=False)),
    )
    add("customers", "bad_phone", "phone", _customer("C900000002", phone="23800138000"))
    add("customers", "bad_phone", "phone", _customer("C900000003", phone="1380013800"))
    add("customers", "invalid_value", "gender", _customer("C900000004", gender="X"))
    add("customers", "bad_type", "birth_date", _customer("C900000005", birth_date="1985-02-30"))
    add("customers", "bad_type", "income_monthly", _customer("C900000006", income_monthly="lots"))
    add("customers", "missing_required", "id_number", _customer("C900000007", id_number=None))
    add("customers", "invalid_value", "occupation", _customer("C900000008", occupation="astronaut"))
    add("customers", "invalid_value", "risk_level", _customer("C900000009", risk_level="C9"))
    add("customers", "invalid_value", "marketing_consent", _customer("C900000010", marketing_consent="maybe"))
    add("customers", "unknown_key", "branch_id", _customer("C900000011", branch_id="BR9999"))
    add("customers", "unknown_key", "branch_id", _customer("C900000012", branch_id="BR9001"))  # parent rejected
    add("customers", "duplicate_key", "customer_id", _customer(KNOWN_CUSTOMER_2))
    add("customers", None, "rm_id", _customer("C900000013", rm_id="S999999"), warning=True)  # unassigned

    product = {
        "name": "测试产品",
        "category": "fund",
        "risk_level": "R3",
        "term_days": None,
        "expected_yield": 0.03,
        "is_agency": "Y",
    }
    add("products", "invalid_value", "category", {**product, "product_id": "PZZ001", "category": "crypto"})
    add("products", "missing_required", "risk_level", {**product, "product_id": "PZZ002", "risk_level": None})
    add("products", "invalid_value", "risk_level", {**product, "product_id": "PZZ003", "risk_level": "R9"})
    add("products", "invalid_value", "is_agency", {**product, "product_id": "PZZ004", "is_agency": "maybe"})
    add("products", "bad_type", "term_days", {**product, "product_id": "PZZ005", "term_days": "ninety"})
    add("products", "bad_type", "expected_yield", {**product, "product_id": "PZZ006", "expected_yield": "high"})
    add(
        "products",
        "duplicate_key",
        "product_id",
        {**product, "product_id": "PDC001", "category": "deposit_current", "risk_level": None},
    )

    account = {
        "customer_id": KNOWN_CUSTOMER,
        "product_id": "PDC001",
        "opened_on": date(2024, 5, 6),
        "maturity_on": None,
        "closed_on": None,
        "next_due_on": None,
        "amount_due": None,
        "days_past_due": None,
        "account_number": None,
    }
    add(
        "accounts", "unknown_key", "customer_id", {**account, "account_id": "A90000000001", "customer_id": "C999999999"}
    )
    add(
        "accounts", "unknown_key", "customer_id", {**account, "account_id": "A90000000002", "customer_id": "C900000001"}
    )  # parent rejected
    add("accounts", "unknown_key", "product_id", {**account, "account_id": "A90000000003", "product_id": "PXX999"})
    add(
        "accounts", "unknown_key", "product_id", {**account, "account_id": "A90000000004", "product_id": "PZZ001"}
    )  # parent rejected
    add("accounts", "missing_required", "product_id", {**account, "account_id": "A90000000005", "product_id": None})
    add("accounts", "bad_type", "opened_on", {**account, "account_id": "A90000000006", "opened_on": "2025-13-01"})
    add("accounts", "bad_type", "amount_due", {**account, "account_id": "A90000000007", "amount_due": "abc"})
    add("accounts", "duplicate_key", "account_id", {**account, "account_id": KNOWN_ACCOUNT})

    day = as_of - timedelta(days=3)
    add(
        "balances",
        "unknown_key",
        "account_id",
        {"account_id": "A99999999999", "date": day, "balance": Decimal("100.00")},
    )
    add(
        "balances",
        "unknown_key",
        "account_id",
        {"account_id": "A90000000002", "date": day, "balance": Decimal("100.00")},
    )  # parent rejected
    add(
        "balances",
        "bad_type",
        "balance",
        {"account_id": KNOWN_ACCOUNT, "date": as_of + timedelta(days=1), "balance": "12.34x"},
    )
    add("balances", "bad_type", "date", {"account_id": KNOWN_ACCOUNT, "date": "2026-02-30", "balance": Decimal("1.00")})
    add(
        "balances",
        "missing_required",
        "balance",
        {"account_id": KNOWN_ACCOUNT, "date": as_of + timedelta(days=2), "balance": None},
    )
    add(
        "balances",
        "duplicate_key",
        "date",
        {"account_id": KNOWN_ACCOUNT, "date": first_day - timedelta(days=1), "balance": Decimal("1.00")},
    )

    tx = {
        "account_id": KNOWN_ACCOUNT,
        "ts": ts,
        "amount": Decimal("-10.00"),
        "channel": "mobile",
        "category": "purchase",
        "merchant_group": "dining",
        "counterparty": "测试商户",
    }
    add("transactions", "bad_type", "amount", {**tx, "tx_id": "T900000000000001", "amount": "abc"})
    add("transactions", "bad_type", "ts", {**tx, "tx_id": "T900000000000002", "ts": "yesterday"})
    add("transactions", "missing_required", "ts", {**tx, "tx_id": "T900000000000003", "ts": None})
    add("transactions", "missing_required", "channel", {**tx, "tx_id": "T900000000000004", "channel": None})
    add("transactions", "invalid_value", "channel", {**tx, "tx_id": "T900000000000005", "channel": "fax"})
    add("transactions", "invalid_value", "category", {**tx, "tx_id": "T900000000000006", "category": "gift"})
    add("transactions", "unknown_key", "account_id", {**tx, "tx_id": "T900000000000007", "account_id": "A99999999999"})
    add(
        "transactions", "unknown_key", "account_id", {**tx, "tx_id": "T900000000000008", "account_id": "A90000000002"}
    )  # parent rejected
    add("transactions", "duplicate_key", "tx_id", {**tx, "tx_id": KNOWN_TX})

    ev = {"customer_id": KNOWN_CUSTOMER, "ts": ts, "event": "view_fund"}
    add("behavior_events", "unknown_key", "customer_id", {**ev, "customer_id": "C999999999"})
    add("behavior_events", "unknown_key", "customer_id", {**ev, "customer_id": "C900000001"})  # parent rejected
    add("behavior_events", "missing_required", "event", {**ev, "event": None})
    add("behavior_events", "bad_type", "ts", {**ev, "ts": "not-a-time"})
    return f


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def inject(writer: BundleWriter, ctx: Context) -> list[Fault]:
    """Before the writers close: Parquet faults go in as a last row group; CSV ones wait for :func:`finish`."""
    as_of = EPOCH + timedelta(days=ctx.as_of)
    first = EPOCH + timedelta(days=ctx.first_day)
    faults = [x for x in _faults(as_of, first) if writer.fmt == "csv" or x.reason != "bad_type"]
    base = dict(writer.rows)
    for x in faults:
        x.row["_row"] = base[x.file] = base[x.file] + 1
    if writer.fmt == "parquet":
        for name in FILES:
            rows = [{k: v for k, v in x.row.items() if k != "_row"} for x in faults if x.file == name]
            if rows:
                writer.write(name, pa.Table.from_pylist(rows, schema=SCHEMAS[name]))
    return faults


def finish(writer: BundleWriter, out: Path, fmt: Format, faults: list[Fault]) -> None:
    """After the writers close: append CSV faults as text, then write expected_load.json."""
    if fmt == "csv":
        for name in FILES:
            mine = [x for x in faults if x.file == name]
            if not mine:
                continue
            with bundle_path(out, name, fmt).open("a", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                for x in mine:
                    w.writerow([_text(x.row.get(col)) for col in SCHEMAS[name].names])
                    writer.rows[name] += 1
    report: dict[str, dict[str, object]] = {}
    for name in FILES:
        mine = [x for x in faults if x.file == name]
        reasons: dict[str, int] = {}
        for x in mine:
            if x.reason:
                reasons[x.reason] = reasons.get(x.reason, 0) + 1
        rejected = sum(reasons.values())
        report[name] = {
            "read": writer.rows[name],
            "accepted": writer.rows[name] - rejected,
            "rejected": rejected,
            "warnings": sum(1 for x in mine if x.warning),
            "reasons": reasons,
        }
    injected = [
        {
            "file": x.file,
            "row": x.row["_row"],
            **({"line": int(str(x.row["_row"])) + 1} if fmt == "csv" else {}),
            "reason": x.reason,
            "warning": x.warning,
            "field": x.field,
            "key": {k: _text(x.row.get(k)) for k in _KEYS[x.file]},
        }
        for x in faults
    ]
    doc = {"format": fmt, "files": report, "injected": injected}
    (out / "expected_load.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


_KEYS = {
    "branches": ("branch_id",),
    "staff": ("staff_id",),
    "customers": ("customer_id",),
    "products": ("product_id",),
    "accounts": ("account_id",),
    "balances": ("account_id", "date"),
    "transactions": ("tx_id",),
    "behavior_events": ("customer_id", "ts", "event"),
}
