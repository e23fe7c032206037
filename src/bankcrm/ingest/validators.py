"""Vectorised row validation: one DuckDB statement per file, then key checks over the staged table.

Each row gets at most one fault, ``<reason>:<column>``, chosen by the precedence of
``spec.REASONS``: row-level checks first (in column order within a reason), then foreign keys,
then duplicates (a row is a duplicate only when an earlier row with the same key survived every
other check, so the first surviving row wins).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb

from bankcrm import reference as ref
from bankcrm.ingest.reader import LINE, q
from bankcrm.ingest.spec import (
    BAD_PHONE,
    BAD_TYPE,
    DUPLICATE_KEY,
    ID_CHECKSUM,
    INVALID_VALUE,
    MISSING_REQUIRED,
    UNKNOWN_KEY,
    Column,
    FileSpec,
)

FAULT = "__fault"
RAW = "__raw"
WARNING = "__warning"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# an offset (or Z) is required: a timestamp without one is ambiguous
# hours 00-23 (no 24:00), offsets within -14:00..+14:00 as ISO 8601 and real zones allow
_TS_RE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
    r"(Z|[+-]((0[0-9]|1[0-3])(:?[0-5][0-9])?|14(:?00)?))"
)
_MONEY_RE = r"[+-]?[0-9]{1,16}(\.[0-9]{1,2})?"
_INT_RE = r"[+-]?[0-9]{1,9}(\.0+)?"  # also 3.0: dataframes write an integer column with gaps as floats
_FLOAT_RE = r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"  # no spaces, digit separators or bare points
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_NON_NEGATIVE = ("days_past_due", "term_days", "capacity")

# the calendar a date or timestamp must fall in: years 1 to 9999, as ISO 8601's four digits and the
# database drivers allow (DuckDB itself takes year 0 and years past 9999); a timestamp's local date too
_LAST_LOCAL = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=ZoneInfo(ref.BUNDLE_TIMEZONE)).astimezone(UTC)
_RANGE = {
    "date": ("DATE '0001-01-01'", "DATE '9999-12-31'"),
    "ts": ("TIMESTAMPTZ '0001-01-01 00:00:00+00'", f"TIMESTAMPTZ '{_LAST_LOCAL.isoformat(sep=' ')}'"),
}

DUCK_TYPES = {
    "date": "DATE",
    "ts": "TIMESTAMPTZ",
    "money": "DECIMAL(18,2)",
    "int": "INTEGER",
    "float": "DOUBLE",
}

BAD_TYPE_DETAIL = {
    "date": "not a date YYYY-MM-DD",
    "ts": "not an ISO 8601 timestamp with an offset",
    "money": "not an amount with at most two decimals",
    "int": "not a whole number",
    "float": "not a number",
}


def _s(name: str) -> str:
    return q(f"s__{name}")


def _lit(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _string_expr(col: Column, src_type: str | None) -> str:
    if src_type is None:
        return "NULL::VARCHAR" if col.default is None else f"'{col.default}'"
    c = q(col.name)
    if src_type == "BOOLEAN":
        expr = f"CASE WHEN {c} THEN 'Y' WHEN NOT {c} THEN 'N' END"
    elif src_type == "VARCHAR":
        expr = f"NULLIF({c}, '')"
    elif src_type in ("DOUBLE", "FLOAT") and col.kind not in DUCK_TYPES:
        # a phone or key written as a float (13800138000.0) is its digits when whole
        whole = f"{c} = round({c}) AND abs({c}) < 1e18"
        expr = f"CASE WHEN {whole} THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END"
    else:
        expr = f"CAST({c} AS VARCHAR)"
    return expr if col.default is None else f"COALESCE({expr}, '{col.default}')"


def _typed_expr(col: Column, src_type: str | None) -> str:
    """The column converted to its type; NULL where the text does not parse (a bad_type)."""
    if col.kind == "skills":
        # stored as checked: trimmed, without empty entries ("fund; wealth;" is "fund;wealth")
        return f"NULLIF(array_to_string({_skill_list(_s(col.name))}, ';'), '')"
    if col.kind not in DUCK_TYPES:
        return _s(col.name)
    target = DUCK_TYPES[col.kind]
    if src_type is None:
        return f"NULL::{target}"
    c, s = q(col.name), _s(col.name)
    numeric = src_type in _INT_TYPES or src_type.startswith("DECIMAL")
    if col.kind == "date":
        if src_type == "DATE":
            return c
        # dataframe libraries write dates as timestamps: midnight is a date; for one with a zone,
        # local midnight or else midnight UTC (never both at once), whatever the unit (TIMESTAMPTZ_NS …)
        if _zoned(src_type):
            whens = ""
            for zone in (ref.BUNDLE_TIMEZONE, "UTC"):
                wall = f"timezone('{zone}', CAST({c} AS TIMESTAMPTZ))"
                whens += f" WHEN CAST({wall} AS TIME) = TIME '00:00:00' THEN CAST({wall} AS DATE)"
            return f"CASE{whens} END"
        if src_type.startswith("TIMESTAMP"):
            wall = f"CAST({c} AS TIMESTAMP)"
            return f"CASE WHEN CAST({wall} AS TIME) = TIME '00:00:00' THEN CAST({wall} AS DATE) END"
        return f"CASE WHEN regexp_full_match({s}, '{_DATE_RE}') THEN TRY_CAST({s} AS DATE) END"
    if col.kind == "ts":
        if _zoned(src_type):
            return f"CAST({c} AS TIMESTAMPTZ)"
        return f"CASE WHEN regexp_full_match({s}, '{_TS_RE}') THEN TRY_CAST({s} AS TIMESTAMPTZ) END"
    if col.kind == "money":
        # a typed amount must have at most two decimals, as in text: no silent rounding
        if src_type in _INT_TYPES:
            return f"TRY_CAST({c} AS DECIMAL(18,2))"
        if src_type.startswith("DECIMAL"):
            return f"CASE WHEN {c} = round({c}, 2) THEN TRY_CAST({c} AS DECIMAL(18,2)) END"
        cents = f"TRY_CAST({c} AS DECIMAL(18,2))"
        if src_type == "FLOAT":
            # single precision holds 1234.56 as 1234.5600586: it must be the float nearest a cent amount
            return f"CASE WHEN CAST({cents} AS FLOAT) = {c} THEN {cents} END"
        if src_type == "DOUBLE":
            # a float holds 1500.51 only approximately (0.1 + 0.2 even less): within a millionth of a cent
            return f"CASE WHEN abs(CAST({c} AS DOUBLE) - CAST({cents} AS DOUBLE)) < 1e-6 THEN {cents} END"
        return f"CASE WHEN regexp_full_match({s}, '{_MONEY_RE}') THEN TRY_CAST({s} AS DECIMAL(18,2)) END"
    if col.kind == "int":
        if src_type in _INT_TYPES:
            return f"TRY_CAST({c} AS INTEGER)"
        if src_type in ("DOUBLE", "FLOAT") or src_type.startswith("DECIMAL"):
            # writers often store nullable whole numbers as floats; accept them when integral
            return f"CASE WHEN {c} = round({c}) THEN TRY_CAST({c} AS INTEGER) END"
        return f"CASE WHEN regexp_full_match({s}, '{_INT_RE}') THEN TRY_CAST({s} AS INTEGER) END"
    # float: NaN and infinity are no values
    if numeric or src_type in ("DOUBLE", "FLOAT"):
        number = f"CAST({c} AS DOUBLE)"
        return f"CASE WHEN isfinite({number}) THEN {number} END"
    # text as strict as the other numbers' ('1_000' and ' 0.03' are no numbers); NaN and inf fail the pattern
    number = f"TRY_CAST({s} AS DOUBLE)"
    return f"CASE WHEN regexp_full_match({s}, '{_FLOAT_RE}') AND isfinite({number}) THEN {number} END"


def _skill_list(text: str) -> str:
    return f"list_filter(list_transform(string_split({text}, ';'), lambda x: trim(x)), lambda x: x <> '')"


def _o(name: str) -> str:
    return q(f"o__{name}")


def _text_free(col: Column, src_type: str | None) -> bool:
    """A typed source column whose typed value is computed from the column itself, not from its text."""
    if src_type is None or src_type == "VARCHAR" or col.kind not in DUCK_TYPES:
        return False
    return _s(col.name) not in _typed_expr(col, src_type)


def _zoned(src_type: str) -> bool:
    return src_type.startswith(("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"))


def _id_checksum_ok(s: str) -> str:
    total = " + ".join(f"TRY_CAST(substr({s}, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_ID_WEIGHTS))
    return (
        f"CASE WHEN regexp_full_match({s}, '[0-9]{{17}}[0-9Xx]') "
        f"THEN upper(substr({s}, 18, 1)) = substr('10X98765432', (({total}) % 11) + 1, 1) ELSE false END"
    )


def _row_fault(spec: FileSpec) -> str:
    """CASE expression giving the first row-level fault, by reason precedence then column order."""
    whens: list[str] = []
    for col in spec.columns:
        if col.required:
            whens.append(f"WHEN {_s(col.name)} IS NULL THEN '{MISSING_REQUIRED}:{col.name}'")
    for name, condition in spec.conditional_required:
        whens.append(f"WHEN {_s(name)} IS NULL AND ({condition}) THEN '{MISSING_REQUIRED}:{name}'")
    for col in spec.columns:
        if col.kind in DUCK_TYPES:
            whens.append(f"WHEN {_s(col.name)} IS NOT NULL AND {q(col.name)} IS NULL THEN '{BAD_TYPE}:{col.name}'")
    for col in spec.columns:
        s = _s(col.name)
        if col.kind == "enum":
            whens.append(f"WHEN {s} NOT IN ({_lit(col.choices)}) THEN '{INVALID_VALUE}:{col.name}'")
        elif col.kind == "yn":
            whens.append(f"WHEN {s} NOT IN ('Y', 'N') THEN '{INVALID_VALUE}:{col.name}'")
        elif col.kind == "skills":
            whens.append(
                f"WHEN NOT list_has_all([{_lit(ref.PRODUCT_CATEGORIES)}], {_skill_list(s)}) "
                f"THEN '{INVALID_VALUE}:{col.name}'"
            )
        elif col.name in _NON_NEGATIVE:
            whens.append(f"WHEN {q(col.name)} < 0 THEN '{INVALID_VALUE}:{col.name}'")
    for col in spec.columns:
        if col.kind == "id_number":
            whens.append(f"WHEN NOT ({_id_checksum_ok(_s(col.name))}) THEN '{ID_CHECKSUM}:{col.name}'")
    for col in spec.columns:
        if col.kind == "phone":
            whens.append(f"WHEN NOT regexp_full_match({_s(col.name)}, '1[0-9]{{10}}') THEN '{BAD_PHONE}:{col.name}'")
    if not whens:
        return "NULL::VARCHAR"
    return "CASE " + " ".join(whens) + " END"


def stage_sql(spec: FileSpec, source: str, src_types: dict[str, str], target: str, carry: tuple[str, ...] = ()) -> str:
    """CREATE TABLE ``target``: line, row-level fault, typed values and (for faulty rows) the raw row.

    ``carry``: columns of the source kept as they are (reader.MISSHAPEN).

    The statement keeps one row per source row, in source order: a staged CSV file's line
    numbers are its row ids (reader.line_sql), so no join, filter or window belongs here,
    and keys are checked afterwards (check_foreign_keys and the rest).
    """
    # a typed column (Parquet) that converts without its text is written out as text only for the
    # raw row of a faulty row; formatting every timestamp and amount would cost more than reading
    text_free = [c for c in spec.columns if _text_free(c, src_types.get(c.name))]
    strings = ", ".join(
        f"CASE WHEN {q(c.name)} IS NOT NULL THEN '' END AS {_s(c.name)}"  # presence only
        if c in text_free
        else f"{_string_expr(c, src_types.get(c.name))} AS {_s(c.name)}"
        for c in spec.columns
    )
    passthrough = "".join(f", {q(c.name)}" for c in spec.columns if c.name in src_types and c.kind in DUCK_TYPES)
    passthrough += "".join(f", {q(c.name)} AS {_o(c.name)}" for c in text_free)
    typed = ", ".join(f"{_typed_expr(c, src_types.get(c.name))} AS {q(c.name)}" for c in spec.columns)
    raw_fields = [
        f"{q(c.name)} := CAST({_o(c.name)} AS VARCHAR)" if c in text_free else f"{q(c.name)} := {_s(c.name)}"
        for c in spec.columns
        if c.name in src_types
    ]
    raw = f"to_json(struct_pack({', '.join(raw_fields)}))" if raw_fields else "NULL::VARCHAR"
    keep_strings = ", ".join([_s(c.name) for c in spec.columns] + [_o(c.name) for c in text_free])
    typed_names = ", ".join(q(c.name) for c in spec.columns)
    in_range = ", ".join(
        f"CASE WHEN {q(c.name)} BETWEEN {_RANGE[c.kind][0]} AND {_RANGE[c.kind][1]} THEN {q(c.name)} END AS {q(c.name)}"
        for c in spec.columns
        if c.kind in _RANGE
    )
    dated = f"SELECT * REPLACE ({in_range}) FROM l2" if in_range else "SELECT * FROM l2"
    carried = "".join(f", {q(c)}" for c in carry)
    return f"""
        CREATE OR REPLACE TABLE {target} AS
        WITH l1 AS (SELECT {LINE}{carried}, {strings}{passthrough} FROM {source}),
             l2 AS (SELECT {LINE}{carried}, {keep_strings}, {typed} FROM l1),
             l2d AS ({dated}),
             l3 AS (SELECT *, {_row_fault(spec)} AS __row_fault FROM l2d)
        SELECT {LINE}{carried}, __row_fault AS {FAULT}, NULL::VARCHAR AS {WARNING},
               CASE WHEN __row_fault IS NOT NULL THEN {raw} END AS {RAW}, {typed_names}
        FROM l3
    """


def check_foreign_keys(
    con: duckdb.DuckDBPyConnection, spec: FileSpec, table: str, parent_views: dict[str, str]
) -> None:
    """Reject rows whose key to another file is not among ``parent_views`` (one column ``k`` per parent).

    In column order, so a row's first unknown key is its fault. Such rows keep no raw text (the
    staging pass did not know them for faulty); their typed values stand in for it, as for
    duplicates. ``NOT IN (subquery)`` plans as a mark join: a probe that only flags each row.
    """
    for fk in spec.foreign_keys:
        if fk.parent == spec.name or fk.warning:
            continue
        col = q(fk.column)
        con.execute(
            f"""UPDATE {table} SET {FAULT} = '{UNKNOWN_KEY}:{fk.column}'
                WHERE {FAULT} IS NULL AND {col} IS NOT NULL
                  AND {col} NOT IN (SELECT k FROM {parent_views[fk.parent]} WHERE k IS NOT NULL)"""
        )


def check_self_reference(
    con: duckdb.DuckDBPyConnection, spec: FileSpec, table: str, parent_views: dict[str, str]
) -> None:
    """Settle a self-reference (branches.parent_id) by repeating until nothing changes.

    A parent must be loaded already or accepted in this file, so a branch whose parent was
    rejected is rejected too.
    """
    for fk in spec.foreign_keys:
        if fk.parent != spec.name:
            continue
        col, key = q(fk.column), q(spec.key[0])
        while True:
            changed = con.execute(
                f"""UPDATE {table} SET {FAULT} = '{UNKNOWN_KEY}:{fk.column}'
                    WHERE {FAULT} IS NULL AND {col} IS NOT NULL
                      AND {col} NOT IN (SELECT k FROM {parent_views[fk.parent]})
                      AND {col} NOT IN (SELECT {key} FROM {table} WHERE {FAULT} IS NULL)"""
            ).fetchone()
            if not changed or not changed[0]:
                break


def check_duplicates(con: duckdb.DuckDBPyConnection, spec: FileSpec, table: str) -> None:
    """Later rows with the key of an earlier surviving row are duplicates (first wins).

    Grouping a hundred million string keys is slow, so rows are first grouped by a 64-bit hash
    of the key; only the few rows whose hash repeats are grouped by the key itself.
    """
    keys = ", ".join(q(k) for k in spec.key)
    join = " AND ".join(f"d.{q(k)} = {table}.{q(k)}" for k in spec.key)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE dup_hashes AS
            SELECT hash({keys}) AS h FROM {table} WHERE {FAULT} IS NULL GROUP BY h HAVING count(*) > 1"""
    )
    repeated = con.execute("SELECT count(*) FROM dup_hashes").fetchone()
    if not repeated or not repeated[0]:
        return  # the usual case: no two surviving rows share a key hash, so no second scan
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE dup_keys AS
            SELECT {keys}, min({LINE}) AS first_line FROM {table}
            WHERE {FAULT} IS NULL AND hash({keys}) IN (SELECT h FROM dup_hashes)
            GROUP BY ALL HAVING count(*) > 1"""
    )
    label = "+".join(spec.key)
    # the first line rides in the fault text so the reject store can say which row won
    con.execute(
        f"""UPDATE {table} SET {FAULT} = '{DUPLICATE_KEY}:{label}:' || d.first_line
            FROM dup_keys d WHERE {join} AND {table}.{FAULT} IS NULL AND {table}.{LINE} <> d.first_line"""
    )


def apply_warnings(con: duckdb.DuckDBPyConnection, spec: FileSpec, table: str, parent_views: dict[str, str]) -> None:
    """Accepted rows with an unknown warning-only key keep loading, with the key blanked."""
    for fk in spec.foreign_keys:
        if not fk.warning:
            continue
        col = q(fk.column)
        con.execute(
            f"""UPDATE {table} SET {WARNING} = '{fk.warning}', {col} = NULL
                WHERE {FAULT} IS NULL AND {col} IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM {parent_views[fk.parent]} p WHERE p.k = {table}.{col})"""
        )


def counts(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int, dict[str, int], dict[str, int]]:
    """read, rejected, rejections per reason, warnings per reason (one scan of the table)."""
    groups = con.execute(
        f"SELECT split_part({FAULT}, ':', 1), {WARNING}, count(*) FROM {table} GROUP BY ALL"
    ).fetchall()
    reasons: dict[str, int] = {}
    warnings: dict[str, int] = {}
    total = 0
    for reason, warning, n in groups:
        total += n
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + n
        elif warning is not None:
            warnings[warning] = warnings.get(warning, 0) + n
    return total, sum(reasons.values()), dict(sorted(reasons.items())), warnings
