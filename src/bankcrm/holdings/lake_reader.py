"""Reading one customer's transactions from the lake with DuckDB, newest month first.

The lake is partitioned by month (``transactions/month=YYYY-MM``), not by customer, so a
query for one customer scans the account_id column of every file it opens. Pages are
therefore filled month by month from the newest: the first page of an active customer opens
one or two month folders, however long the history is, and a deeper page opens only the
months it reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from bankcrm import lake

COLUMNS = ("tx_id", "account_id", "ts", "tx_date", "amount", "channel", "category", "merchant_group", "counterparty")


def _month_files(lake_dir: Path, month: str) -> list[str]:
    return sorted(str(p) for p in lake.month_dir(lake_dir, "transactions", month).glob("*.parquet"))


def read_transactions(
    lake_dir: Path,
    account_ids: Sequence[str],
    *,
    months: Sequence[str],
    category: str | None,
    skip: int,
    take: int,
) -> list[dict[str, object]]:
    """Rows ``skip`` … ``skip + take − 1`` of the accounts' transactions in ``months``, newest first.

    ``months`` are ``YYYY-MM`` folder names; they are read newest first and reading stops as
    soon as the page is full.
    """
    if not account_ids or take <= 0:
        return []
    wanted = skip + take
    rows: list[tuple[object, ...]] = []
    con = duckdb.connect(config={"threads": 1})
    try:
        con.execute("SET TimeZone = 'UTC'")
        for month in sorted(months, reverse=True):
            files = _month_files(lake_dir, month)
            if not files:
                continue
            params: list[object] = [files, list(account_ids)]
            where = "account_id = ANY($2)"
            if category:
                where += " AND category = $3"
                params.append(category)
            sql = (
                f"SELECT {', '.join(COLUMNS)} FROM read_parquet($1, union_by_name = true) "
                f"WHERE {where} ORDER BY ts DESC, tx_id DESC"
            )
            rows.extend(con.execute(sql, params).fetchall())
            if len(rows) >= wanted:
                break
    finally:
        con.close()
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows[skip:wanted]]


def months_with_transactions(lake_dir: Path) -> list[str]:
    """``YYYY-MM`` of every month folder in the lake, newest first."""
    return sorted(lake.months_present(lake_dir, "transactions"), reverse=True)
