"""Business rules over published scores: which run is meant, and the stable export."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from bankcrm.scores import repository as repo
from bankcrm.scores.columns import EXPORT_COLUMNS
from bankcrm.scores.models import CustomerScore


class ScoresError(Exception):
    """A user-facing problem with a scores request."""


def resolve_run(session: Session, run: str) -> int:
    """'latest' (the published current run) or a run id that was published and still has scores."""
    if run == "latest":
        run_id = repo.current_run_id(session)
        if run_id is None:
            raise ScoresError("no published run yet: run `bankcrm run --as-of DATE` first")
        return run_id
    try:
        run_id = int(run)
    except ValueError as exc:
        raise ScoresError(f"--run: expected a run id or 'latest', got {run!r}") from exc
    found = repo.get_run(session, run_id)
    if found is None or found.status != "published":
        raise ScoresError(f"--run {run_id}: no published run with that id")
    if repo.count_scores(session, run_id) == 0:
        raise ScoresError(f"--run {run_id}: per-customer outputs of that run were pruned (tier history remains)")
    return run_id


def tier_migration(
    session: Session, from_run: int | None, to_run: int | None
) -> tuple[int, int, dict[tuple[str, str], int]]:
    """The two published runs meant (defaults: the current run and the one before) and their matrix."""
    published = [r.id for r in repo.published_runs(session)]
    if to_run is None:
        current = repo.current_run_id(session)
        if current is None:
            raise ScoresError("no published run yet")
        to_run = current
    if to_run not in published:
        raise ScoresError(f"--to {to_run}: no published run with that id")
    if from_run is None:
        earlier = [r for r in published if r < to_run]
        if not earlier:
            raise ScoresError(f"run {to_run} is the first published run; there is nothing to compare it with")
        from_run = earlier[-1]
    if from_run not in published:
        raise ScoresError(f"--from {from_run}: no published run with that id")
    return from_run, to_run, repo.migration_matrix(session, from_run, to_run)


def export_scores(session: Session, run_id: int, out_file: Path) -> int:
    """Write one row per customer with EXPORT_COLUMNS; CSV or Parquet by the file's extension."""
    suffix = out_file.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ScoresError(f"{out_file}: the file name must end in .csv or .parquet")
    cols = [getattr(CustomerScore, c) for c in EXPORT_COLUMNS]
    stmt = select(*cols).where(CustomerScore.run_id == run_id).order_by(CustomerScore.customer_id)
    schema = _export_schema()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | pacsv.CSVWriter
    writer = pq.ParquetWriter(out_file, schema) if suffix == ".parquet" else pacsv.CSVWriter(out_file, schema)
    n = 0
    try:
        result = session.execute(stmt.execution_options(yield_per=50_000))
        for part in result.partitions():
            batch = pa.RecordBatch.from_arrays(
                [pa.array(col, type=field.type) for col, field in zip(zip(*part, strict=True), schema, strict=True)],
                schema=schema,
            )
            writer.write_batch(batch)
            n += batch.num_rows
        if n == 0:
            writer.write_table(schema.empty_table())
    finally:
        writer.close()
    return n


def _export_schema() -> pa.Schema:
    text = {"customer_id", "value_class", "tier_raw", "tier", "segment"}
    integer = {"tx_count_90d", "recency_days", "active_months_6m", "payroll_months_3m", "product_count", "age"}
    fields = []
    for name in EXPORT_COLUMNS:
        if name in text:
            fields.append(pa.field(name, pa.string()))
        elif name in integer:
            fields.append(pa.field(name, pa.int64()))
        elif name == "last_tx_date":
            fields.append(pa.field(name, pa.date32()))
        else:
            fields.append(pa.field(name, pa.float64()))
    return pa.schema(fields)
