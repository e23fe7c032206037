"""analyze_tables and vacuum_tables after a bulk write: statistics and visibility on PostgreSQL, nothing on SQLite."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from bankcrm.db.engine import analyze_tables, vacuum_tables


def _bulk_probe(conn: Connection, rows: int) -> None:
    conn.execute(text("CREATE TABLE bulk_probe (id INTEGER PRIMARY KEY, tier VARCHAR(16))"))
    conn.execute(
        text("INSERT INTO bulk_probe (id, tier) VALUES (:id, :tier)"), [{"id": i, "tier": "vip"} for i in range(rows)]
    )


def test_analyze_tables_gives_the_planner_the_new_row_count(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        _bulk_probe(conn, 500)
        analyze_tables(conn, ["bulk_probe"])
        analyze_tables(conn, [])
    if any_engine.dialect.name != "postgresql":
        return  # a no-op elsewhere
    with any_engine.connect() as conn:
        tuples = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('bulk_probe')")).scalar_one()
    assert tuples == 500


def test_vacuum_tables_marks_updated_pages_all_visible_again(any_engine: Engine) -> None:
    """Index-only scans skip the heap only on all-visible pages; an update of every row clears them all."""
    with any_engine.begin() as conn:
        _bulk_probe(conn, 2000)
    vacuum_tables(any_engine, ["bulk_probe"])
    with any_engine.begin() as conn:
        conn.execute(text("UPDATE bulk_probe SET tier = 'ordinary'"))
    if any_engine.dialect.name != "postgresql":
        vacuum_tables(any_engine, ["bulk_probe"])  # a no-op elsewhere
        return
    with any_engine.connect() as conn:
        assert _heap_fetches(conn) > 0  # the update left the pages not all-visible
    vacuum_tables(any_engine, ["bulk_probe"])
    with any_engine.connect() as conn:
        assert _heap_fetches(conn) == 0


def _heap_fetches(conn: Connection) -> int:
    """Heap pages an index-only scan of every bulk_probe id still had to visit."""
    conn.execute(text("SET enable_seqscan = off"))
    conn.execute(text("SET enable_bitmapscan = off"))
    plan = conn.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM bulk_probe WHERE id >= 0")).scalar_one()
    node = plan[0]["Plan"]
    assert node["Node Type"] == "Index Only Scan"
    return int(node["Heap Fetches"])
