"""The Parquet lake under the home: its layout and column types.

The contract between ingest (which writes it) and the nightly run (which reads it, on DuckDB
or Spark, without touching the operational database). It holds no names, ID numbers or
phone numbers: master data is a pseudonymised snapshot of keys, dates, categories and
levels; counterparties are keyed pseudonyms.

Layout::

    lake/
      master/<table>.parquet                 branches, staff, customers, products, accounts
      balances/month=YYYY-MM/*.parquet       by month of `date`
      transactions/month=YYYY-MM/*.parquet   by month of `tx_date` (ts in Asia/Shanghai)
      behavior_events/month=YYYY-MM/*.parquet by month of `event_date` (ts in Asia/Shanghai)
      published/tier_history/run=NNNNNNNN.parquet  tiers of every published nightly run

A nightly run for as_of reads only the month folders it needs. Money is decimal(18,2),
timestamps are UTC instants, `tx_date`/`event_date` are the local calendar dates.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

MONEY = pa.decimal128(18, 2)
TS = pa.timestamp("us", tz="UTC")

MASTER_SCHEMAS: dict[str, pa.Schema] = {
    "branches": pa.schema(
        [("branch_id", pa.string()), ("name", pa.string()), ("city", pa.string()), ("parent_id", pa.string())]
    ),
    "staff": pa.schema(
        [
            ("staff_id", pa.string()),
            ("role", pa.string()),
            ("branch_id", pa.string()),
            ("team_id", pa.string()),
            ("level", pa.string()),
            ("skills", pa.string()),
        ]
    ),
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("gender", pa.string()),
            ("birth_date", pa.date32()),
            ("city", pa.string()),
            ("occupation", pa.string()),
            ("income_monthly", MONEY),
            ("onboard_date", pa.date32()),
            ("branch_id", pa.string()),
            ("rm_id", pa.string()),
            ("marketing_consent", pa.bool_()),
            ("risk_level", pa.string()),
            ("risk_assessed_on", pa.date32()),
        ]
    ),
    "products": pa.schema(
        [
            ("product_id", pa.string()),
            ("name", pa.string()),
            ("category", pa.string()),
            ("risk_level", pa.string()),
            ("term_days", pa.int32()),
            ("expected_yield", pa.float64()),
            ("is_agency", pa.bool_()),
        ]
    ),
    "accounts": pa.schema(
        [
            ("account_id", pa.string()),
            ("customer_id", pa.string()),
            ("product_id", pa.string()),
            ("opened_on", pa.date32()),
            ("maturity_on", pa.date32()),
            ("closed_on", pa.date32()),
            ("next_due_on", pa.date32()),
            ("amount_due", MONEY),
            ("days_past_due", pa.int32()),
        ]
    ),
}

FACT_SCHEMAS: dict[str, pa.Schema] = {
    "balances": pa.schema([("account_id", pa.string()), ("date", pa.date32()), ("balance", MONEY)]),
    "transactions": pa.schema(
        [
            ("tx_id", pa.string()),
            ("account_id", pa.string()),
            ("ts", TS),
            ("tx_date", pa.date32()),
            ("amount", MONEY),
            ("channel", pa.string()),
            ("category", pa.string()),
            ("merchant_group", pa.string()),
            ("counterparty", pa.string()),  # keyed pseudonym of the bundle's counterparty
        ]
    ),
    "behavior_events": pa.schema(
        [("customer_id", pa.string()), ("ts", TS), ("event_date", pa.date32()), ("event", pa.string())]
    ),
}

# the key of each fact table (a later bundle replaces the row with the same key)
FACT_KEYS: dict[str, tuple[str, ...]] = {
    "balances": ("account_id", "date"),
    "transactions": ("tx_id",),
    "behavior_events": ("customer_id", "ts", "event"),
}
# the date column a fact table is partitioned by
FACT_PARTITION_DATE: dict[str, str] = {
    "balances": "date",
    "transactions": "tx_date",
    "behavior_events": "event_date",
}


# the published tier history, copied from the operational DB so that a run reads earlier tiers
# (for hysteresis) from the lake alone
TIER_HISTORY_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("as_of", pa.date32()), ("tier_raw", pa.string()), ("tier", pa.string())]
)


def tier_history_dir(lake_dir: Path) -> Path:
    return lake_dir / "published" / "tier_history"


def master_path(lake_dir: Path, table: str) -> Path:
    return lake_dir / "master" / f"{table}.parquet"


def fact_dir(lake_dir: Path, table: str) -> Path:
    return lake_dir / table


def month_dir(lake_dir: Path, table: str, month: str) -> Path:
    """Folder of one month (``YYYY-MM``) of a fact table."""
    return lake_dir / table / f"month={month}"


def months_present(lake_dir: Path, table: str) -> list[str]:
    base = fact_dir(lake_dir, table)
    if not base.exists():
        return []
    return sorted(p.name.split("=", 1)[1] for p in base.glob("month=*") if any(p.glob("*.parquet")))
