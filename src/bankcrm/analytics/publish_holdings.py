"""Publishing the 360 view's positions and month-end AUM of a nightly run (the writing half of ``holdings``).

Call it after the run's scores are computed and before ``publish.publish`` flips the
current-run pointer: the rows go in under the new run id while readers still use the previous
run, so the 360 view switches to the new positions in the same instant as to the new scores.
Rows of every other run except the current one are deleted first, so at most two runs are
kept (the current one for readers and the new one).
"""

from __future__ import annotations

import time
from datetime import date

import ibis.expr.types as ir
from ibis.backends import BaseBackend
from sqlalchemy import Engine

from bankcrm.analytics import engines
from bankcrm.analytics.holdings import (
    TREND_MONTHS,
    account_month_balances,
    account_positions,
    customer_month_aum_wide,
    month_aum_long,
)
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.holdings import repository as repo
from bankcrm.scores import repository as scores_repo


def publish_holdings(
    con: BaseBackend,
    inputs: engines.NightlyInputs,
    db_engine: Engine,
    run_id: int,
    as_of: date,
    *,
    months: int = TREND_MONTHS,
    account_sums: ir.Table | None = None,
) -> dict[str, float]:
    """Compute positions and the month-end AUM trend on the run's engine and bulk-insert them under ``run_id``.

    ``account_sums``: the run's shared per-account balance sums (see ``shared.py``), if built.
    Returns the row counts and the seconds spent computing and writing.
    """
    started = time.perf_counter()
    per_account = engines.materialize(
        con,
        account_month_balances(
            inputs.accounts, inputs.products, inputs.balances, as_of, months, account_sums=account_sums
        ),
        "account_months",
    )
    positions = con.to_pyarrow(account_positions(per_account, as_of))
    wide = con.to_pyarrow(customer_month_aum_wide(per_account, as_of, months))
    trend = month_aum_long(wide, as_of, months)
    computed = time.perf_counter()
    with session_scope(session_factory(db_engine)) as session:
        current = scores_repo.current_run_id(session)
    keep = [r for r in (current, run_id) if r is not None]
    with db_engine.begin() as conn:
        repo.delete_runs_except(conn, keep)
        repo.insert_positions(conn, run_id, positions)
        repo.insert_month_aum(conn, run_id, trend)
    return {
        "positions": positions.num_rows,
        "month_aum_rows": trend.num_rows,
        "compute_s": round(computed - started, 3),
        "write_s": round(time.perf_counter() - computed, 3),
    }
