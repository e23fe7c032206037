"""Loading one extract bundle: validate each file, keep rejects, upsert master data, write the lake.

Files load in dependency order. All database changes of a load happen in one transaction
(committed by the caller); lake files are staged and moved into place only after that commit.
A file that cannot be read (bad encoding, missing required column, unreadable Parquet) adds
nothing, and the files that reference it, directly or not, are skipped: loading them would
judge their foreign keys against a parent file that was never read.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Engine

from bankcrm.config import Settings
from bankcrm.db.engine import analyze_tables, session_factory, session_scope
from bankcrm.ingest import master, rejects, repository
from bankcrm.ingest.lake_writer import LakeStaging
from bankcrm.ingest.lock import ingest_lock
from bankcrm.ingest.reader import (
    LINE,
    BundleFile,
    MalformedFile,
    diagnose_csv,
    diagnose_parquet,
    find_files,
    line_sql,
    misshapen_record,
    needs_serial_read,
    register_source,
)
from bankcrm.ingest.report import FAILED, SKIPPED, FileReport, LoadReport
from bankcrm.ingest.spec import FILES, FileSpec, dependants
from bankcrm.ingest.validators import (
    FAULT,
    apply_warnings,
    check_duplicates,
    check_foreign_keys,
    check_self_reference,
    counts,
    stage_sql,
)
from bankcrm.reference import BUNDLE_TIMEZONE
from bankcrm.security.crypto import FieldCipher, cipher_for

STAGED = "staged"
PSEUDONYMS = "pseudonyms"
# operational tables a load writes in bulk (master data, contact versions and consents)
ANALYZED_AFTER_LOAD = (
    "branches",
    "teams",
    "staff",
    "customers",
    "products",
    "accounts",
    "contact_versions",
    "consent_events",
)
SOURCE = "src"


@dataclass(frozen=True)
class EngineOptions:
    """DuckDB resources for validation; it spills to the work folder beyond the memory limit."""

    memory_limit: str = "4GB"
    threads: int | None = None


def ingest_bundle(
    settings: Settings,
    engine: Engine,
    bundle_dir: Path,
    *,
    on_wait: Callable[[str], None] = lambda _msg: None,
    options: EngineOptions | None = None,
    on_file: Callable[[str], None] = lambda _name: None,
) -> LoadReport:
    """Load a bundle under the home's lock: one database transaction, then the lake files."""
    with ingest_lock(settings.ensure_home(), on_wait):
        return ingest_bundle_locked(settings, engine, bundle_dir, on_wait=on_wait, options=options, on_file=on_file)


def ingest_bundle_locked(
    settings: Settings,
    engine: Engine,
    bundle_dir: Path,
    *,
    on_wait: Callable[[str], None] = lambda _msg: None,
    options: EngineOptions | None = None,
    on_file: Callable[[str], None] = lambda _name: None,
) -> LoadReport:
    """As ingest_bundle, for a caller that already holds the home's ingest lock."""
    cipher = cipher_for(settings.effective_key_file)
    staging = LakeStaging(settings.lake_dir)
    try:
        with session_scope(session_factory(engine)) as session:
            report = load_bundle(
                session.connection(),
                settings,
                bundle_dir,
                cipher,
                staging,
                on_wait=on_wait,
                options=options,
                on_file=on_file,
            )
        staging.publish()
    finally:
        staging.discard()
    return report


def _derived_key(cipher: FieldCipher, purpose: str) -> str:
    return hmac.new(cipher.ring.blind_index_key, purpose.encode(), hashlib.sha256).hexdigest()


def load_bundle(
    conn: Connection,
    settings: Settings,
    bundle_dir: Path,
    cipher: FieldCipher,
    staging: LakeStaging,
    *,
    on_wait: Callable[[str], None] = lambda _msg: None,
    options: EngineOptions | None = None,
    on_file: Callable[[str], None] = lambda _name: None,
) -> LoadReport:
    """Validate and apply every file of the bundle inside ``conn``'s transaction (the caller commits).

    ``on_file`` is told the name of each file as its load starts (progress, per-file measurements).
    """
    started = time.perf_counter()
    repository.lock_database(conn, on_wait)
    repository.tune_for_bulk_load(conn)
    report = LoadReport(bundle_dir=str(bundle_dir))
    report.load_id = repository.create_load(conn, str(bundle_dir))
    found, problems = find_files(bundle_dir)
    by_name = {bf.spec.name: bf for bf in found}
    work = settings.home / "tmp" / f"ingest-{uuid.uuid4().hex[:12]}"
    work.mkdir(parents=True)
    con = _duckdb(work, options or EngineOptions())
    loader = _FileLoader(con, conn, cipher, report.load_id, staging)
    failed: set[str] = set()
    try:
        for spec in FILES:
            bundle_file = by_name.get(spec.name)
            if spec.name in problems:
                failed.add(spec.name)
                report.files[spec.name] = FileReport(spec.name, status=FAILED, message=str(problems[spec.name]))
                continue
            if bundle_file is None:
                continue
            blocked = sorted(p for p in spec.parents if p in failed or p in dependants(failed))
            if blocked:
                report.files[spec.name] = FileReport(
                    spec.name,
                    bundle_file.label,
                    status=SKIPPED,
                    message=f"not loaded because {', '.join(blocked)} could not be loaded",
                )
                continue
            on_file(spec.name)
            t0 = time.perf_counter()
            try:
                file_report = loader.load(bundle_file)
            except MalformedFile as exc:
                failed.add(spec.name)
                file_report = FileReport(spec.name, bundle_file.label, status=FAILED, message=str(exc))
            file_report.seconds = time.perf_counter() - t0
            report.files[spec.name] = file_report
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    # the web app's lists and lookups read these right after the load
    analyze_tables(conn, ANALYZED_AFTER_LOAD)
    report.seconds = time.perf_counter() - started
    repository.finish_load(conn, report.load_id, "loaded" if report.ok else "incomplete", report.to_json())
    return report


def _duckdb(work: Path, options: EngineOptions) -> duckdb.DuckDBPyConnection:
    # in memory, spilling to the work folder past the limit: a database file would write every row to disk
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{options.memory_limit}'")
    con.execute(f"SET temp_directory = '{work / 'spill'}'")
    if options.threads:
        con.execute(f"SET threads = {int(options.threads)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


def _is_read_failure(exc: Exception) -> bool:
    """A reader's complaint about the file: bad input, I/O, a value it cannot convert, or one it did not classify.

    A corrupt Parquet page raises DuckDB's bare ``Error``; binder, parser and catalog errors are ours.
    """
    classified = (duckdb.InvalidInputException, duckdb.IOException, duckdb.ConversionException, pa.ArrowException)
    return isinstance(exc, classified) or type(exc) in (duckdb.Error, duckdb.DatabaseError)


class _FileLoader:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        conn: Connection,
        cipher: FieldCipher,
        load_id: int,
        staging: LakeStaging,
    ) -> None:
        self.con = con
        self.conn = conn
        self.cipher = cipher
        self.load_id = load_id
        self.staging = staging
        self.fingerprint_key = _derived_key(cipher, "ingest-fingerprint")
        self.pseudonym_key = _derived_key(cipher, "counterparty-pseudonym")
        # keys of the master files this load applied, so later files need not read millions back from the database
        self.known_keys: dict[str, pa.Table] = {}

    def load(self, bundle_file: BundleFile) -> FileReport:
        spec = bundle_file.spec
        steps: dict[str, float] = {}
        clock = time.perf_counter()

        def step(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            steps[name] = round(now - clock, 3)
            clock = now

        parents = self._parent_views(spec)
        step("parent_keys")
        self._stage(bundle_file)
        check_foreign_keys(self.con, spec, STAGED, parents)
        step("read_and_check")
        check_self_reference(self.con, spec, STAGED, parents)
        check_duplicates(self.con, spec, STAGED)
        apply_warnings(self.con, spec, STAGED, parents)
        read, rejected, reasons, warnings = counts(self.con, STAGED)
        step("duplicates")
        rejects.store(self.con, self.conn, self.cipher, self.load_id, spec, STAGED)
        step("rejects")
        if spec.master:
            applied = master.apply(self.con, self.conn, spec, STAGED, self.cipher, self.fingerprint_key)
            self.known_keys[spec.name] = applied.keys
            step("database")
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW lake_new AS {master.lake_view_sql(spec, STAGED)}")
            self.staging.stage_master(self.con, spec.name, "lake_new", spec.key[0])
        else:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW lake_new AS {self._fact_view_sql(spec)}")
            self.staging.stage_facts(self.con, spec.name, "lake_new")
        step("lake")
        self.con.execute("DROP VIEW IF EXISTS lake_new")
        self.con.execute(f"DROP TABLE IF EXISTS {PSEUDONYMS}")
        self.con.execute(f"DROP TABLE IF EXISTS {STAGED}")
        for view in parents.values():
            self.con.unregister(view)
        return FileReport(
            spec.name,
            bundle_file.label,
            read=read,
            accepted=read - rejected,
            rejected=rejected,
            reasons=reasons,
            warning_reasons=warnings,
            steps=steps,
        )

    def _stage(self, bundle_file: BundleFile, *, serial: bool = False) -> None:
        """Read the file into the staged table with row-level faults; a read failure is a MalformedFile."""
        source = register_source(self.con, bundle_file, SOURCE, serial=serial)
        numbering = line_sql(source, STAGED)
        carry = (source.misshapen,) if source.misshapen else ()
        try:
            # a CSV file's line numbers come from the scan order (see reader); later steps need no order
            if numbering:
                self.con.execute("SET preserve_insertion_order = true")
            self.con.execute(stage_sql(bundle_file.spec, SOURCE, source.types, STAGED, carry))
            if numbering:
                self.con.execute(numbering)
        except (duckdb.Error, pa.ArrowException) as exc:
            # only failures of reading the source itself; a failing statement of ours is a bug, not a bad file
            if not _is_read_failure(exc):
                raise
            if not serial and needs_serial_read(exc):
                self._stage(bundle_file, serial=True)
                return
            if bundle_file.format == "csv":
                raise diagnose_csv(bundle_file, exc) from exc
            raise diagnose_parquet(bundle_file, exc) from exc
        finally:
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute(f"DROP VIEW IF EXISTS {SOURCE}")
        if source.misshapen:
            ((first,),) = self.con.execute(f"SELECT min({LINE}) FROM {STAGED} WHERE {source.misshapen}").fetchall()
            if first is not None:
                raise misshapen_record(bundle_file, first)

    def _parent_views(self, spec: FileSpec) -> dict[str, str]:
        """Known keys of each referenced file: the database, which already holds this bundle's accepted rows.

        For a file this load applied, the same keys come from its own result (stored keys plus
        accepted ones) rather than from reading the table back.
        """
        views = {}
        for parent in {fk.parent for fk in spec.foreign_keys}:
            view = f"keys_{parent}"
            known = self.known_keys.get(parent)
            self.con.register(view, known if known is not None else repository.keys(self.conn, parent))
            views[parent] = view
        return views

    def _fact_view_sql(self, spec: FileSpec) -> str:
        accepted = f"FROM {STAGED} WHERE {FAULT} IS NULL"
        if spec.name == "balances":
            return f"SELECT account_id, date, balance, strftime(date, '%Y-%m') AS month {accepted}"
        # the local calendar date decides the day and the month folder (computed once per row)
        local_date = f"CAST(timezone('{BUNDLE_TIMEZONE}', ts) AS DATE)"
        if spec.name == "transactions":
            # a keyed pseudonym: the same counterparty maps to the same value, and the name never reaches the lake;
            # hashed once per distinct counterparty (a payee recurs across millions of rows), then joined
            self.con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {PSEUDONYMS} AS
                    SELECT cp, 'cp_' || substr(sha256('{self.pseudonym_key}' || cp), 1, 20) AS pseudonym
                    FROM (SELECT DISTINCT counterparty AS cp {accepted} AND counterparty IS NOT NULL)"""
            )
            return f"""SELECT *, strftime(tx_date, '%Y-%m') AS month FROM (
                           SELECT tx_id, account_id, ts, {local_date} AS tx_date, amount, channel, category,
                                  merchant_group, p.pseudonym AS counterparty
                           FROM {STAGED} LEFT JOIN {PSEUDONYMS} p ON p.cp = {STAGED}.counterparty
                           WHERE {FAULT} IS NULL)"""
        return f"""SELECT *, strftime(event_date, '%Y-%m') AS month FROM (
                       SELECT customer_id, ts, {local_date} AS event_date, event {accepted})"""
