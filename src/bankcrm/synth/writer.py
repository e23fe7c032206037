"""Appends tables to the bundle's files, one writer per file (CSV or Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from bankcrm.synth.arrowkit import MONEY, local_iso

Format = Literal["csv", "parquet"]
FILES = ("branches", "staff", "customers", "products", "accounts", "balances", "transactions", "behavior_events")
LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving time
TS_PARQUET = pa.timestamp("us", tz="UTC")

_S = pa.string()
SCHEMAS: dict[str, pa.Schema] = {
    "branches": pa.schema([("branch_id", _S), ("name", _S), ("city", _S), ("parent_id", _S)]),
    "staff": pa.schema(
        [
            ("staff_id", _S),
            ("name", _S),
            ("role", _S),
            ("branch_id", _S),
            ("level", _S),
            ("skills", _S),
            ("team_id", _S),
            ("capacity", pa.int32()),
        ]
    ),
    "customers": pa.schema(
        [
            ("customer_id", _S),
            ("name", _S),
            ("gender", _S),
            ("birth_date", pa.date32()),
            ("id_number", _S),
            ("phone", _S),
            ("city", _S),
            ("occupation", _S),
            ("income_monthly", MONEY),
            ("onboard_date", pa.date32()),
            ("branch_id", _S),
            ("rm_id", _S),
            ("marketing_consent", _S),
            ("risk_level", _S),
            ("risk_assessed_on", pa.date32()),
            ("address", _S),
            ("email", _S),
        ]
    ),
    "products": pa.schema(
        [
            ("product_id", _S),
            ("name", _S),
            ("category", _S),
            ("risk_level", _S),
            ("term_days", pa.int32()),
            ("expected_yield", pa.float64()),
            ("is_agency", _S),
        ]
    ),
    "accounts": pa.schema(
        [
            ("account_id", _S),
            ("customer_id", _S),
            ("product_id", _S),
            ("opened_on", pa.date32()),
            ("maturity_on", pa.date32()),
            ("closed_on", pa.date32()),
            ("next_due_on", pa.date32()),
            ("amount_due", MONEY),
            ("days_past_due", pa.int32()),
            ("account_number", _S),
        ]
    ),
    "balances": pa.schema([("account_id", _S), ("date", pa.date32()), ("balance", MONEY)]),
    "transactions": pa.schema(
        [
            ("tx_id", _S),
            ("account_id", _S),
            ("ts", TS_PARQUET),
            ("amount", MONEY),
            ("channel", _S),
            ("category", _S),
            ("merchant_group", _S),
            ("counterparty", _S),
        ]
    ),
    "behavior_events": pa.schema([("customer_id", _S), ("ts", TS_PARQUET), ("event", _S)]),
}


def file_schema(name: str, fmt: Format) -> pa.Schema:
    """Column types as written: CSV carries timestamps as ISO 8601 text with +08:00."""
    schema = SCHEMAS[name]
    if fmt == "csv" and "ts" in schema.names:
        schema = schema.set(schema.get_field_index("ts"), pa.field("ts", _S))
    return schema


def bundle_path(out_dir: Path, name: str, fmt: Format) -> Path:
    return out_dir / f"{name}.{fmt}"


class BundleWriter:
    """One open writer per file; tables are appended as they are generated."""

    def __init__(self, out_dir: Path, fmt: Format) -> None:
        self.out_dir, self.fmt = out_dir, fmt
        self.rows: dict[str, int] = dict.fromkeys(FILES, 0)
        self._writers: dict[str, pq.ParquetWriter | pcsv.CSVWriter] = {}

    def _writer(self, name: str) -> pq.ParquetWriter | pcsv.CSVWriter:
        if name not in self._writers:
            path = bundle_path(self.out_dir, name, self.fmt)
            schema = file_schema(name, self.fmt)
            if self.fmt == "parquet":
                self._writers[name] = pq.ParquetWriter(path, schema, compression="zstd", compression_level=1)
            else:
                options = pcsv.WriteOptions(include_header=True, quoting_style="needed")
                self._writers[name] = pcsv.CSVWriter(path, schema, write_options=options)
        return self._writers[name]

    def write(self, name: str, table: pa.Table) -> None:
        """Append rows; a ``ts`` column arrives as naive local wall-clock time."""
        ts_type = table.schema.field("ts").type if "ts" in table.column_names else None
        if isinstance(ts_type, pa.TimestampType) and ts_type.tz is None:
            ts = table["ts"]
            if self.fmt == "csv":
                local = ts.cast(pa.timestamp("s")).cast(pa.int64())
                text = local_iso(local.fill_null(0).to_numpy())
                ts = (
                    pc.if_else(pc.is_null(local), pa.nulls(len(local), pa.string()), text) if local.null_count else text
                )
            else:
                utc = pc.subtract(ts.cast(pa.timestamp("s")).cast(pa.int64()), LOCAL_OFFSET)
                ts = pc.multiply(utc, 1_000_000).cast(TS_PARQUET)
            table = table.set_column(table.schema.get_field_index("ts"), "ts", ts)
        table = table.select(file_schema(name, self.fmt).names).cast(file_schema(name, self.fmt))
        self._writer(name).write_table(table)
        self.rows[name] += table.num_rows

    def close(self) -> None:
        for name in FILES:
            self._writer(name)  # every file exists, even when empty
        for w in self._writers.values():
            w.close()
        self._writers.clear()
