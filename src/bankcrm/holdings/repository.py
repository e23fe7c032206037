"""All queries over published positions and month-end AUM: bulk writes for the nightly run, reads for the 360 view."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from bankcrm.holdings.models import AccountPosition, CustomerMonthAum
from bankcrm.products.models import Account, Product

POSITION_COLUMNS = ("account_id", "customer_id", "product_id", "category", "balance", "balance_avg_30d")
MONTH_AUM_COLUMNS = ("customer_id", "month_end", "aum", "aum_avg", "liability")
_INSERT_BATCH = 20_000


def delete_runs_except(conn: Connection, keep: Sequence[int]) -> int:
    """Drop the rows of every run not in ``keep`` (older runs, and partial rows of runs that never published)."""
    n = 0
    for model in (AccountPosition, CustomerMonthAum):
        result = conn.execute(delete(model).where(model.run_id.not_in(list(keep))))
        n += result.rowcount or 0
    return n


def insert_positions(conn: Connection, run_id: int, positions: pa.Table) -> int:
    return _bulk_insert(conn, AccountPosition.__tablename__, run_id, positions, POSITION_COLUMNS)


def insert_month_aum(conn: Connection, run_id: int, trend: pa.Table) -> int:
    return _bulk_insert(conn, CustomerMonthAum.__tablename__, run_id, trend, MONTH_AUM_COLUMNS)


def _bulk_insert(conn: Connection, table_name: str, run_id: int, data: pa.Table, columns: Sequence[str]) -> int:
    if conn.dialect.name == "postgresql":
        return _copy_postgres(conn, table_name, run_id, data, columns)
    cols = ", ".join(f'"{c}"' for c in ("run_id", *columns))
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    sql = f'INSERT INTO "{table_name}" ({cols}) VALUES ({marks})'
    n = 0
    for rows in _plain_rows(data, run_id, columns):
        conn.exec_driver_sql(sql, rows)
        n += len(rows)
    return n


def _plain_rows(data: pa.Table, run_id: int, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of plain tuples for SQLite: dates as ISO text, amounts as floats already rounded to cents."""
    for batch in data.select(list(columns)).to_batches(max_chunksize=_INSERT_BATCH):
        values = []
        for column in batch.columns:
            if pa.types.is_date(column.type):
                column = column.cast(pa.string())
            elif pa.types.is_decimal(column.type):
                column = column.cast(pa.float64())
            values.append(column.to_pylist())
        yield [(run_id, *row) for row in zip(*values, strict=True)]


def _copy_postgres(conn: Connection, table_name: str, run_id: int, data: pa.Table, columns: Sequence[str]) -> int:
    """COPY … FROM STDIN in CSV, as the scores are published."""
    data = data.select(list(columns)).append_column("run_id", pa.array([run_id] * data.num_rows, pa.int64()))
    cols = ", ".join(f'"{c}"' for c in data.column_names)
    raw = conn.connection.driver_connection
    sql = f'COPY "{table_name}" ({cols}) FROM STDIN WITH (FORMAT csv)'
    with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
        for batch in data.to_batches(max_chunksize=200_000):
            buf = io.BytesIO()
            pacsv.write_csv(
                pa.Table.from_batches([batch]), buf, pacsv.WriteOptions(include_header=False, quoting_style="needed")
            )
            copy.write(buf.getvalue())
    return data.num_rows


def positions_of(session: Session, run_id: int, customer_id: str) -> list[tuple[AccountPosition, Account, Product]]:
    """The customer's published positions with their account and product rows, largest balance first."""
    stmt = (
        select(AccountPosition, Account, Product)
        .join(Account, Account.account_id == AccountPosition.account_id)
        .join(Product, Product.product_id == Account.product_id)
        .where(AccountPosition.run_id == run_id, AccountPosition.customer_id == customer_id)
        .order_by(AccountPosition.balance.desc(), AccountPosition.account_id)
    )
    return [(p, a, prod) for p, a, prod in session.execute(stmt).all()]


def month_aum_of(session: Session, run_id: int, customer_id: str) -> list[CustomerMonthAum]:
    stmt = (
        select(CustomerMonthAum)
        .where(CustomerMonthAum.run_id == run_id, CustomerMonthAum.customer_id == customer_id)
        .order_by(CustomerMonthAum.month_end)
    )
    return list(session.scalars(stmt).all())


def account_ids_of(session: Session, customer_id: str) -> list[str]:
    return list(session.scalars(select(Account.account_id).where(Account.customer_id == customer_id)).all())


def accounts_of(session: Session, customer_id: str) -> list[tuple[str, str]]:
    """(account_id, product category) of every account of the customer."""
    stmt = (
        select(Account.account_id, Product.category)
        .join(Product, Product.product_id == Account.product_id)
        .where(Account.customer_id == customer_id)
    )
    return [(a, c) for a, c in session.execute(stmt).all()]


def run_rows_exist(session: Session, run_id: int) -> bool:
    return session.scalar(select(CustomerMonthAum.run_id).where(CustomerMonthAum.run_id == run_id).limit(1)) is not None
