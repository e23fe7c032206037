"""Writing accepted rows to the Parquet lake: staged under ``lake/.staging`` and renamed into place.

Master tables are whole snapshots merged by key. Fact tables are rewritten one month folder
at a time, and only the months whose content changes: a month gets the bundle's rows for that
month plus the old rows whose key the bundle does not carry (a later bundle replaces by
key, lake.FACT_KEYS). A re-loaded bundle changes no month, so no file is touched.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from bankcrm import lake
from bankcrm.ingest.reader import q

_PA_TO_DUCK = {
    pa.string(): "VARCHAR",
    pa.date32(): "DATE",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    lake.MONEY: "DECIMAL(18,2)",
    lake.TS: "TIMESTAMPTZ",
}


def duck_type(dtype: pa.DataType) -> str:
    return _PA_TO_DUCK[dtype]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class LakeStaging:
    """Everything one load writes to the lake, published together after the database commit."""

    def __init__(self, lake_dir: Path) -> None:
        self.lake_dir = lake_dir
        self.root = lake_dir / ".staging" / uuid.uuid4().hex
        self.master: dict[str, Path] = {}
        self.months: dict[str, set[str]] = {}

    def stage_master(self, con: duckdb.DuckDBPyConnection, table: str, new_view: str, key: str) -> bool:
        """Merge the bundle's rows (``new_view``, columns as lake.MASTER_SCHEMAS) into the snapshot."""
        target = lake.master_path(self.lake_dir, table)
        cols = ", ".join(q(f.name) for f in lake.MASTER_SCHEMAS[table])
        if target.exists():
            old = f"read_parquet({_sql_path(target)})"
            row = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {new_view} EXCEPT SELECT {cols} FROM {old})")
            changed = row.fetchone()
            if changed is not None and changed[0] == 0:
                return False
            merged = (
                f"SELECT {cols} FROM {new_view} UNION ALL SELECT {cols} FROM {old} o "
                f"WHERE NOT EXISTS (SELECT 1 FROM {new_view} n WHERE n.{q(key)} = o.{q(key)})"
            )
        else:
            merged = f"SELECT {cols} FROM {new_view}"
        staged = self.root / "master" / f"{table}.parquet"
        staged.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({merged} ORDER BY {q(key)}) TO {_sql_path(staged)} (FORMAT parquet)")
        self.master[table] = staged
        return True

    def stage_facts(self, con: duckdb.DuckDBPyConnection, table: str, new_view: str) -> set[str]:
        """Stage the month folders of ``table`` that the bundle's rows (``new_view``, with ``month``) change."""
        cols = [f.name for f in lake.FACT_SCHEMAS[table]]
        col_list = ", ".join(q(c) for c in cols)
        keys = lake.FACT_KEYS[table]
        staged_dir = self.root / table
        existing = lake.months_present(self.lake_dir, table)
        if not existing:
            select = f"SELECT {col_list}, month FROM {new_view}"
            affected: set[str] | None = None
        else:
            old = (
                f"read_parquet({_sql_path(lake.fact_dir(self.lake_dir, table))} || '/month=*/*.parquet', "
                "hive_partitioning = true, hive_types = {'month': 'VARCHAR'})"
            )
            join = " AND ".join(f"n.{q(k)} = o.{q(k)}" for k in keys)
            differs = " OR ".join(f"n.{q(c)} IS DISTINCT FROM o.{q(c)}" for c in [*cols, "month"])
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE changed_keys AS
                    SELECT {", ".join(f"n.{q(k)}" for k in keys)}, n.month FROM {new_view} n
                    LEFT JOIN {old} o ON {join} WHERE o.{q(keys[0])} IS NULL OR {differs}"""
            )
            join_c = " AND ".join(f"c.{q(k)} = o.{q(k)}" for k in keys)
            affected = {
                r[0]
                for r in con.execute(
                    f"""SELECT month FROM changed_keys UNION
                        SELECT o.month FROM {old} o JOIN changed_keys c ON {join_c}"""
                ).fetchall()
            }
            if not affected:
                return set()
            months = ", ".join(f"'{m}'" for m in sorted(affected))
            join_n = " AND ".join(f"n.{q(k)} = o.{q(k)}" for k in keys)
            select = (
                f"SELECT {col_list}, month FROM {new_view} WHERE month IN ({months}) UNION ALL "
                f"SELECT {', '.join(f'o.{q(c)}' for c in cols)}, o.month FROM {old} o WHERE o.month IN ({months}) "
                f"AND NOT EXISTS (SELECT 1 FROM {new_view} n WHERE {join_n})"
            )
        staged_dir.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({select}) TO {_sql_path(staged_dir)} (FORMAT parquet, PARTITION_BY (month))")
        written = {p.name.split("=", 1)[1] for p in staged_dir.glob("month=*")}
        months_changed = written if affected is None else affected
        self.months[table] = months_changed
        return months_changed

    def publish(self) -> None:
        """Move every staged file into place (each rename is atomic); then drop the staging folder."""
        trash = self.root / "_replaced"
        for table, staged in self.master.items():
            target = lake.master_path(self.lake_dir, table)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        for table, months in self.months.items():
            for month in sorted(months):
                target = lake.month_dir(self.lake_dir, table, month)
                staged = self.root / table / f"month={month}"
                if target.exists():
                    trash.mkdir(parents=True, exist_ok=True)
                    os.replace(target, trash / f"{table}-{month}")
                if staged.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, target)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        parent = self.root.parent
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
