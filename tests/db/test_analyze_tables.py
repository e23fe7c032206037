"""analyze_tables: planner statistics right after a bulk write on PostgreSQL, nothing on SQLite."""

from __future__ import annotations

from sqlalchemy import Engine, text

from bankcrm.db.engine import analyze_tables


def test_analyze_tables_gives_the_planner_the_new_row_count(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        conn.execute(text("CREATE TABLE bulk_probe (id INTEGER PRIMARY KEY, tier VARCHAR(16))"))
        conn.execute(
            text("INSERT INTO bulk_probe (id, tier) VALUES (:id, :tier)"),
            [{"id": i, "tier": "vip"} for i in range(500)],
        )
        analyze_tables(conn, ["bulk_probe"])
        analyze_tables(conn, [])
    if any_engine.dialect.name != "postgresql":
        return  # a no-op elsewhere
    with any_engine.connect() as conn:
        tuples = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('bulk_probe')")).scalar_one()
    assert tuples == 500
