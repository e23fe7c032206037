"""Finding a bundle's files and opening each one as a DuckDB source with a line number per row.

CSV files are read by DuckDB's parallel reader, every column as text, with one field more than
the header so that a record of the wrong length is seen (``MISSHAPEN``); a file with a quoted
value spanning lines is read serially (``needs_serial_read``). Their rows are numbered
after staging (``line_sql``): while ``preserve_insertion_order`` is on, the parallel reader
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
import re
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


def unrecognised_files(bundle_dir: Path) -> list[str]:
    """Files of the folder that look like extracts but are not loaded (a misspelt or capitalised name)."""
    names = {f"{spec.name}.{ext}" for spec in FILES for ext in ("csv", "parquet")}
    return sorted(
        p.name
        for p in bundle_dir.iterdir()
        if p.name not in names and p.suffix.lower() in (".csv", ".parquet", ".gz", ".zip", ".xlsx")
    )


@dataclass(frozen=True)
class Source:
    """A file opened as a view: the spec's columns it has (name to DuckDB type) and how rows get numbers.

    ``numbering`` is None when the view numbers its rows itself (``__line``); otherwise the value
    to set ``__line`` to from the staged table's row id, which holds only when the file was staged
    with ``preserve_insertion_order`` on.
    """

    types: dict[str, str]
    numbering: str | None
    # a boolean column of the view, true where a CSV record has more or fewer fields than the header
    misshapen: str | None = None


def register_source(
    con: duckdb.DuckDBPyConnection, bundle_file: BundleFile, view: str, *, serial: bool = False
) -> Source:
    """Make ``view`` scan the file's known columns plus ``__line``; unknown columns are left out.

    ``serial``: read a CSV file on one thread, for a file the parallel reader cannot take
    (``needs_serial_read``).
    """
    if bundle_file.format == "csv":
        return _register_csv(con, bundle_file, view, serial=serial)
    return _register_parquet(con, bundle_file, view)


def needs_serial_read(exc: Exception) -> bool:
    """DuckDB's parallel CSV reader cannot pad records when a quoted value spans lines; its serial one can."""
    return "quoted new lines" in str(exc) and "parallel" in str(exc)


def line_sql(source: Source, table: str) -> str | None:
    """The statement that numbers a staged file's rows by their row ids, if its view did not."""
    return None if source.numbering is None else f"UPDATE {table} SET {LINE} = {source.numbering}"


def _check_required(bundle_file: BundleFile, columns: list[str], line: int | None) -> None:
    for col in bundle_file.spec.columns:
        if col.required and col.name not in columns:
            raise MalformedFile(bundle_file.label, "required column is missing", line=line, column=col.name)


def _known_positions(bundle_file: BundleFile, header: list[str]) -> dict[str, int]:
    """Where each of the spec's columns is in the header; a column named twice is an error."""
    known = {c.name for c in bundle_file.spec.columns}
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        if name not in known:
            continue
        if name in positions:
            raise MalformedFile(
                bundle_file.label,
                f"the header names this column twice (fields {positions[name] + 1} and {i + 1})",
                line=1,
                column=name,
            )
        positions[name] = i
    return positions


def _read_header(bundle_file: BundleFile) -> list[str]:
    with bundle_file.path.open("rb") as fh:
        head = fh.read(1 << 20)
    # a line ends in LF, CRLF or (old Mac files, which the reader takes too) a lone CR
    raw = re.split(rb"\r\n|\r|\n", head, maxsplit=1)[0]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedFile(bundle_file.label, "invalid UTF-8 in the header", line=1) from exc
    if not text.strip():
        if head.decode("utf-8", errors="replace").lstrip("\ufeff").strip():
            raise MalformedFile(bundle_file.label, "the line is blank; the header row must come first", line=1)
        raise MalformedFile(bundle_file.label, "the file is empty or has no header row", line=1)
    try:
        names = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise MalformedFile(bundle_file.label, f"the header row is not valid CSV ({exc})", line=1) from exc
    return [name.strip() for name in names]


MISSHAPEN = "__misshapen"
# the longest record the CSV reader takes (DuckDB's default); a longer one makes the file unreadable
MAX_LINE_BYTES = 2_097_152
# what the CSV reader takes for null: a string no extract holds, so an empty field reads as '' and
# only a field the record lacks (padding) is null
_NO_NULL = "\x01\x02bankcrm\x02\x01"


def _register_csv(con: duckdb.DuckDBPyConnection, bundle_file: BundleFile, view: str, *, serial: bool) -> Source:
    header = _read_header(bundle_file)
    _check_required(bundle_file, header, line=1)
    positions = _known_positions(bundle_file, header)
    n = len(header)
    # fields are read by position: header names may repeat, differ only in case or be empty. One field
    # more than the header, and records padded: DuckDB drops surplus empty fields at a record's end
    # ('B1,Head,Office,,' under four columns, a name with an unquoted comma), so the reader is asked for
    # n + 1 and a record whose field n + 1 is there, or whose field n is not, has the wrong shape
    fields = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(n + 1))
    known = ", ".join(f"f{i} AS {q(name)}" for name, i in positions.items())
    # no sniffing: the header read above gives the columns, every value stays text until validated
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {view} AS
            SELECT {known}, NULL::BIGINT AS {LINE}, f{n} IS NOT NULL OR f{n - 1} IS NULL AS {MISSHAPEN}
            FROM read_csv({_sql_text(str(bundle_file.path))}, header = true, auto_detect = false,
                          columns = {{{fields}}}, delim = ',', quote = '"', escape = '"',
                          strict_mode = true, encoding = 'utf-8', max_line_size = {MAX_LINE_BYTES}, null_padding = true,
                          nullstr = {_sql_text(_NO_NULL)}, parallel = {str(not serial).lower()})"""
    )
    # data row i (from 0) has row id i and is line i + 2
    return Source(dict.fromkeys(positions, "VARCHAR"), numbering="rowid + 2", misshapen=MISSHAPEN)


def misshapen_record(bundle_file: BundleFile, line: int) -> MalformedFile:
    """The first record whose field count differs from the header's; ``line`` is where staging saw one."""
    header = _read_header(bundle_file)
    found = _bad_record(bundle_file, header)
    return found or MalformedFile(bundle_file.label, f"expected {len(header)} fields as in the header", line=line)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def q(name: str) -> str:
    """A quoted SQL identifier (the loader's column names come from files)."""
    return '"' + name.replace('"', '""') + '"'


def _register_parquet(con: duckdb.DuckDBPyConnection, bundle_file: BundleFile, view: str) -> Source:
    try:
        schema = pq.ParquetFile(bundle_file.path).schema
        columns = schema.to_arrow_schema().names
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable_parquet(bundle_file, exc) from exc
    _check_required(bundle_file, columns, line=None)
    known = [c.name for c in bundle_file.spec.columns if c.name in columns]
    # Hive and Spark write timestamps as INT96, which by their convention are UTC instants
    int96 = {schema.column(i).name for i in range(len(schema)) if schema.column(i).physical_type == "INT96"}
    selected = [f"timezone('UTC', {q(c)}) AS {q(c)}" if c in int96 else q(c) for c in known]
    # text written as plain BINARY, without the UTF-8 annotation (Impala, older Hive), is text all the
    # same; bytes that are not UTF-8 make the file unreadable, as in CSV
    path = _sql_text(str(bundle_file.path)) + ", binary_as_string = true"
    if any(name.lower() == "file_row_number" for name in columns):
        # the reader's own row number would clash with the file's column: number by row id instead
        scan, line, numbering = f"read_parquet({path})", "NULL::BIGINT", "rowid + 1"
    else:
        scan, line, numbering = f"read_parquet({path}, file_row_number = true)", "file_row_number + 1", None
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {', '.join(selected)}, {line} AS {LINE} FROM {scan}")
        described = con.execute(f"DESCRIBE {view}").fetchall()
    except duckdb.Error as exc:
        raise _unreadable_parquet(bundle_file, exc) from exc
    return Source({row[0]: str(row[1]) for row in described if row[0] != LINE}, numbering)


def diagnose_csv(bundle_file: BundleFile, error: Exception) -> MalformedFile:
    """Find the first line DuckDB could not read; runs only after a failure.

    Over the whole file: UTF-8 by physical line first, then the CSV records (quoted fields may
    span lines; quotes strictly doubled; as many fields as the header), then the line endings
    (one kind throughout). Failing those, DuckDB's own message, its first line only.
    """
    header = _read_header(bundle_file)
    found = _bad_utf8(bundle_file, header) or _bad_record(bundle_file, header) or _mixed_line_endings(bundle_file)
    if found:
        return found
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    at = re.search(r"\b[Ll]ine:? *(\d+)", str(error))
    return MalformedFile(bundle_file.label, f"could not be read: {message}", line=int(at[1]) if at else None)


def diagnose_parquet(bundle_file: BundleFile, error: Exception) -> MalformedFile:
    """Name the row and column of text that is not UTF-8; otherwise the reader's own complaint."""
    if "UTF8" in str(error) or "UTF-8" in str(error):
        found = _bad_utf8_parquet(bundle_file)
        if found:
            return found
    return _unreadable_parquet(bundle_file, error)


def _unreadable_parquet(bundle_file: BundleFile, error: Exception) -> MalformedFile:
    return MalformedFile(bundle_file.label, f"not a readable Parquet file ({error})")


def _bad_utf8_parquet(bundle_file: BundleFile) -> MalformedFile | None:
    """The first value of a known BINARY column (text without the UTF-8 annotation) that is not UTF-8."""
    parquet = pq.ParquetFile(bundle_file.path)
    known = {c.name for c in bundle_file.spec.columns}
    for field in parquet.schema_arrow:
        if field.name not in known or not (pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)):
            continue
        row = 0
        for batch in parquet.iter_batches(columns=[field.name], batch_size=65_536):
            values = batch.column(0)
            try:
                values.cast(pa.large_string())
            except pa.ArrowInvalid:
                for i, value in enumerate(values.to_pylist()):
                    if value is not None and not _is_utf8(value):
                        message = "invalid UTF-8 in a text value; text must be UTF-8 encoded"
                        return MalformedFile(bundle_file.label, message, line=row + i + 1, column=field.name)
            row += len(values)
    return None


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bad_utf8(bundle_file: BundleFile, header: list[str]) -> MalformedFile | None:
    with bundle_file.path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8-sig" if number == 1 else "utf-8")
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
    return None


def _bad_record(bundle_file: BundleFile, header: list[str]) -> MalformedFile | None:
    # the csv module's own limit on a field (128 KiB) is far below the reader's on a record
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
    with bundle_file.path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        start = 1  # the line the next record starts on
        try:
            for fields in reader:
                line, start = start, reader.line_num + 1
                if line == 1 or not fields:  # the header; a blank line, which the reader skips
                    continue
                if len(fields) != len(header):
                    # a short record: the first field it lacks; a long one has no column to name
                    lacking = header[len(fields)] if len(fields) < len(header) else None
                    return MalformedFile(
                        bundle_file.label,
                        f"expected {len(header)} fields as in the header, found {len(fields)}",
                        line=line,
                        column=lacking,
                    )
        except csv.Error as exc:
            if "field limit" in str(exc):
                message = f"a record longer than the reader's limit of {MAX_LINE_BYTES:,} bytes"
                return MalformedFile(bundle_file.label, message, line=start)
            return MalformedFile(bundle_file.label, f"not valid CSV ({exc})", line=reader.line_num)
    return None


def _mixed_line_endings(bundle_file: BundleFile) -> MalformedFile | None:
    with bundle_file.path.open("rb") as fh:
        first = fh.readline()
        crlf = first.endswith(b"\r\n")
        for number, raw in enumerate(fh, start=2):
            if raw.endswith(b"\n") and raw.endswith(b"\r\n") != crlf:
                ends, header_ends = ("CRLF", "LF") if not crlf else ("LF", "CRLF")
                return MalformedFile(
                    bundle_file.label,
                    f"the line ends in {ends} but the header in {header_ends}; use one line ending throughout",
                    line=number,
                )
    return None
