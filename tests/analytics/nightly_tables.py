"""Tiny lake-shaped Ibis tables for the nightly tests, and one DuckDB connection to evaluate them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.features import customer_features
from bankcrm.lake import FACT_SCHEMAS, MASTER_SCHEMAS

AS_OF = date(2026, 6, 30)
_CON = ibis.duckdb.connect(threads=1)


def days_before(n: int, as_of: date = AS_OF) -> date:
    return as_of - timedelta(days=n)


def money(value: str | int) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def lake_table(name: str, rows: list[dict[str, Any]]) -> ir.Table:
    """A memtable with the lake schema of ``name``; absent columns are null."""
    schema = MASTER_SCHEMAS.get(name) or FACT_SCHEMAS[name]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))


def customer(customer_id: str, birth_date: date = date(1990, 1, 1), onboard_date: date = date(2020, 1, 1)) -> dict:
    return {"customer_id": customer_id, "birth_date": birth_date, "onboard_date": onboard_date}


def account(
    account_id: str,
    customer_id: str,
    category: str,
    opened_on: date = date(2020, 1, 1),
    closed_on: date | None = None,
) -> dict:
    # one product per category keeps the tests readable: product_id = category
    return {
        "account_id": account_id,
        "customer_id": customer_id,
        "product_id": category,
        "opened_on": opened_on,
        "closed_on": closed_on,
    }


def balance(account_id: str, day: date, amount: str | int) -> dict:
    return {"account_id": account_id, "date": day, "balance": money(amount)}


def transaction(tx_id: str, account_id: str, day: date, amount: str | int, channel: str, category: str) -> dict:
    # noon local time is 04:00 UTC the same day, so ts and tx_date agree
    ts = datetime.combine(day, time(4, 0), tzinfo=UTC)
    return {
        "tx_id": tx_id,
        "account_id": account_id,
        "ts": ts,
        "tx_date": day,
        "amount": money(amount),
        "channel": channel,
        "category": category,
    }


def products_for(accounts: list[dict]) -> list[dict]:
    return [{"product_id": c, "name": c, "category": c} for c in sorted({a["product_id"] for a in accounts})]


def collect(expr: ir.Table, key: str = "customer_id") -> dict[str, dict[str, Any]]:
    """Rows of ``expr`` keyed by ``key``."""
    return {row[key]: row for row in _CON.to_pyarrow(expr).to_pylist()}


def evaluate(expr: ir.Table) -> pa.Table:
    return _CON.to_pyarrow(expr)


def features_of(
    customers: list[dict],
    accounts: list[dict] | None = None,
    balances: list[dict] | None = None,
    transactions: list[dict] | None = None,
    as_of: date = AS_OF,
    config: NightlyConfig | None = None,
) -> dict[str, dict[str, Any]]:
    """customer_features over hand-made rows, keyed by customer_id."""
    accounts = accounts or []
    expr = customer_features(
        lake_table("customers", customers),
        lake_table("accounts", accounts),
        lake_table("products", products_for(accounts)),
        lake_table("balances", balances or []),
        lake_table("transactions", transactions or []),
        as_of,
        config,
    )
    return collect(expr)
