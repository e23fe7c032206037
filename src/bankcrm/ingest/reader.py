"""Finding a bundle's files and opening each one as a DuckDB source with a line number per row.

CSV files are read by DuckDB's parallel reader, every column as text. Their rows are numbered
after staging (``csv_line_sql``): while ``preserve_insertion_order`` is on, the parallel reader
appends rows to the staged table in file order, so data row i (from 0), which has row id i, is
line i + 2 (the header is line 1). That needs the staging statement to keep one row per input
row in input order (validators.stage_sql); a test checks the numbers on a file read in many
blocks. A ``row_number() OVER ()`` in the scan would give the same numbers but runs the whole
validation on one thread. It is the physical line as long as values contain no line breaks
and the file has no blank lines; the extract format has neither. Parquet rows are numbered
from 1 in file order by the reader itself, in parallel and in any order.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from bankcrm.ingest.spec import FILES, FileSpec

LINE = "__line"


class MalformedFile(Exception):
    """A file that cannot be read at all; nothing from it is applied."""

    def __init__(self, file: str, message: str, *, line: int | None = None, column: str | None = None) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        where = [file]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class BundleFile:
    spec: FileSpec
    path: Path
    format: str  # csv or parquet

    @property
    def label(self) -> str:
        return self.path.name


def find_files(bundle_dir: Path) -> tuple[list[BundleFile], dict[str, MalformedFile]]:
    """The bundle's files in load order, and files that are ambiguous (both .csv and .parquet)."""
    found: list[BundleFile] = []
    problems: dict[str, MalformedFile] = {}
    for spec in FILES:
        candidates = [bundle_dir / f"{spec.name}.{ext}" for ext in ("csv", "parquet")]
        present = [p for p in candidates if p.is_file()]
        if len(present) > 1:
            problems[spec.name] = MalformedFile(
                present[0].name, f"both {present[0].name} and {present[1].name} are present; keep one"
            )
            continue
        if present:
            path = present[0]
            found.append(BundleFile(spec, path, path.suffix.lstrip(".")))
    return found, problems


def register_source(con: duckdb.DuckDBPyConnection, bundle_file: BundleFile, view: str) -> dict[str, str]:
    """Make ``view`` scan the file (plus a ``__line`` column); returns its columns and DuckDB types."""
    if bundle_file.format == "csv":
        return _register_csv(con, bundle_file, view)
    return _register_parquet(con, bundle_file, view)


def _check_required(bundle_file: BundleFile, columns: list[str], line: int | None) -> None:
    for col in bundle_file.spec.columns:
        if col.required and col.name not in columns:
            raise MalformedFile(bundle_file.label, "required column is missing", line=line, column=col.name)


def _read_header(bundle_file: BundleFile) -> list[str]:
    with bundle_file.path.open("rb") as fh:
        raw = fh.readline()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedFile(bundle_file.label, "invalid UTF-8 in the header", line=1) from exc
    if not text.strip():
        raise MalformedFile(bundle_file.label, "the file is empty or has no header row", line=1)
    return [name.strip() for name in next(csv.reader([text]))]


def _register_csv(con: duckdb.DuckDBPyConnection, bundle_file: BundleFile, view: str) -> dict[str, str]:
    header = _read_header(bundle_file)
    _check_required(bundle_file, header, line=1)
    columns = ", ".join(f"{_sql_text(name)}: 'VARCHAR'" for name in header)
    # no sniffing: the header read above gives the columns, every value stays text until validated
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {view} AS
            SELECT *, NULL::BIGINT AS {LINE}
            FROM read_csv({_sql_text(str(bundle_file.path))}, header = true, auto_detect = false,
                          columns = {{{columns}}}, delim = ',', quote = '"', escape = '"',
                          strict_mode = true, encoding = 'utf-8')"""
    )
    return dict.fromkeys(header, "VARCHAR")


def csv_line_sql(bundle_file: BundleFile, table: str) -> str | None:
    """The statement that numbers a staged CSV file's rows by their row ids; None for Parquet.

    Only a file that needs it must be staged with ``preserve_insertion_order`` on.
    """
    if bundle_file.format != "csv":
        return None
    return f"UPDATE {table} SET {LINE} = rowid + 2"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _register_parquet(con: duckdb.DuckDBPyConnection, bundle_file: BundleFile, view: str) -> dict[str, str]:
    try:
        columns = pq.read_schema(bundle_file.path).names
    except (pa.ArrowException, OSError) as exc:
        raise MalformedFile(bundle_file.label, f"not a readable Parquet file ({exc})") from exc
    _check_required(bundle_file, columns, line=None)
    path = str(bundle_file.path).replace("'", "''")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number + 1 AS {LINE} FROM read_parquet('{path}', file_row_number = true)"
        )
        described = con.execute(f"DESCRIBE {view}").fetchall()
    except duckdb.Error as exc:
        raise MalformedFile(bundle_file.label, f"not a readable Parquet file ({exc})") from exc
    return {row[0]: str(row[1]) for row in described if row[0] != LINE}


def diagnose_csv(bundle_file: BundleFile, error: Exception) -> MalformedFile:
    """Find the first line PyArrow could not read (bad UTF-8, wrong field count); runs only after a failure."""
    header = _read_header(bundle_file)
    with bundle_file.path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                field_index = raw[: exc.start].count(b",")
                column = header[field_index] if field_index < len(header) else None
                return MalformedFile(
                    bundle_file.label,
                    f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line); "
                    "the file must be UTF-8 encoded",
                    line=number,
                    column=column,
                )
            if not text.strip():
                continue
            fields = next(csv.reader(io.StringIO(text)), [])
            if len(fields) != len(header):
                return MalformedFile(
                    bundle_file.label,
                    f"expected {len(header)} fields as in the header, found {len(fields)}",
                    line=number,
                )
    return MalformedFile(bundle_file.label, f"could not be read: {error}")
