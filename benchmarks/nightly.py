"""Nightly-run benchmark: the whole job per step, and its feature step against hand-written baselines.

    python benchmarks/nightly.py --customers 100000,300000 [--months 6] [--repeat 3] [--reuse]
                                 [--spark] [--skip-pandas] [--work DIR]

For each size: generate a synthetic bundle (seed 42, as_of 2026-10-31, Parquet) and load it
into a fresh home (timed, but not the subject; ``--reuse`` keeps a home loaded earlier for the
same size and months), then, one heavy job at a time, each in its own child process so that
its peak RSS is its own:

- ``run_nightly`` on DuckDB end to end, with its per-step timings (and on Spark with ``--spark``);
- the feature table three ways: the product's Ibis expressions (``compute_features``: the
  expressions of the nightly "features" step, computed alone from the lake), a hand-written
  DuckDB SQL script over the same lake files, and a plain pandas implementation (skipped with
  ``--skip-pandas``, which 1M customers needs). In a whole run the "features" step also builds
  the aggregates the later steps share (``analytics/shared.py``), so it takes longer than the
  feature table alone.

The three feature tables must agree — floats to 1e-9 relative, integers and dates exactly, nulls
in the same places — or the script prints every disagreement and exits with status 1: a
baseline that computes something else measures nothing. Results are printed as Markdown (medians
over ``--repeat``) and written as JSON next to the work folder (``nightly-results.json``).

Targets reported against (not asserted): 1M customers end to end ≤ 5 min with peak RSS ≤ 8 GB;
feature step ≤ 1.5× the hand SQL and ≥ 10× faster than pandas; near-linear growth with size.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

AS_OF = date(2026, 10, 31)
SEED = 42
FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-9  # for values that are (nearly) zero, where a relative tolerance means nothing
MARKER = "bench-loaded.json"
DEFAULT_WORK = Path("benchmarks/out/nightly")
RESULTS_NAME = "nightly-results.json"
POLL_SECONDS = 0.2
GB = 1024**3

FEATURE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "aum_avg_30d",
    "aum_avg_90d",
    "aum_avg_180d",
    "aum_growth_6m",
    "liability_balance",
    "tx_count_90d",
    "tx_amount_90d",
    "tx_volume_growth_6m",
    "mobile_share_90d",
    "counter_share_90d",
    "last_tx_date",
    "recency_days",
    "active_months_6m",
    "payroll_months_3m",
    "product_count",
    "age",
    "tenure_years",
    "revenue_annual",
    "cost_annual",
    "net_contribution",
)
INT_COLUMNS = ("tx_count_90d", "recency_days", "active_months_6m", "payroll_months_3m", "product_count", "age")
DATE_COLUMNS = ("last_tx_date",)
FLOAT_COLUMNS = tuple(c for c in FEATURE_COLUMNS[1:] if c not in INT_COLUMNS + DATE_COLUMNS)
FEATURE_SCHEMA = pa.schema(
    [
        (
            c,
            pa.string()
            if c == "customer_id"
            else pa.int64()
            if c in INT_COLUMNS
            else pa.date32()
            if c in DATE_COLUMNS
            else pa.float64(),
        )
        for c in FEATURE_COLUMNS
    ]
)

# SPEC 4.4 defaults, written out here on purpose: the baselines do not read the product's config.
MARGIN_RATES: dict[str, float] = {
    "deposit_current": 0.015,
    "deposit_time": 0.008,
    "wealth": 0.006,
    "fund": 0.008,
    "insurance": 0.010,
    "precious_metal": 0.005,
    "bond": 0.003,
    "loan_mortgage": 0.012,
    "loan_consumer": 0.030,
    "loan_business": 0.020,
    "credit_card": 0.025,
}
ASSET = ("deposit_current", "deposit_time", "wealth", "fund", "insurance", "precious_metal", "bond")
LIABILITY = ("loan_mortgage", "loan_consumer", "loan_business", "credit_card")


# --------------------------------------------------------------------------------------------
# the hand-written DuckDB SQL baseline
# --------------------------------------------------------------------------------------------

HAND_SQL = """
-- Customer features at {as_of} (SPEC 4.1, 4.2 and the 4.4 revenue/cost inputs), straight from the lake.
-- Each balance row holds from its date until the account's next row, the day after as_of, or
-- closed_on, whichever comes first; a window's mean is the overlap-weighted sum / window days.
CREATE MACRO overlap(valid_from, valid_to, first_day, last_day) AS
    greatest(0, least(valid_to, last_day + 1) - greatest(valid_from, first_day));

CREATE TEMP TABLE accounts AS
SELECT a.account_id, a.customer_id, a.opened_on, a.closed_on, p.category,
       coalesce(m.rate, 0)::DECIMAL(6, 4) AS margin_rate
FROM read_parquet('{lake}/master/accounts.parquet') a
JOIN read_parquet('{lake}/master/products.parquet') p USING (product_id)
LEFT JOIN (VALUES {margin_rates}) m(category, rate) USING (category);

CREATE TEMP TABLE balance_features AS
WITH spans AS (
    SELECT a.customer_id, a.category, a.margin_rate, b.balance, b.date AS valid_from,
           least(coalesce(lead(b.date) OVER (PARTITION BY b.account_id ORDER BY b.date), DATE '{as_of}' + 1),
                 coalesce(a.closed_on, DATE '{as_of}' + 1)) AS valid_to
    FROM read_parquet('{lake}/balances/*/*.parquet', hive_partitioning = false) b
    JOIN accounts a USING (account_id)
    WHERE b.date <= DATE '{as_of}'
)
SELECT customer_id,
       sum(balance * overlap(valid_from, valid_to, DATE '{as_of}' - 29, DATE '{as_of}'))
           FILTER (WHERE category IN {asset}) AS aum_30d,
       sum(balance * overlap(valid_from, valid_to, DATE '{as_of}' - 89, DATE '{as_of}'))
           FILTER (WHERE category IN {asset}) AS aum_90d,
       sum(balance * overlap(valid_from, valid_to, DATE '{as_of}' - 179, DATE '{as_of}'))
           FILTER (WHERE category IN {asset}) AS aum_180d,
       sum(balance * overlap(valid_from, valid_to, DATE '{as_of}' - 211, DATE '{as_of}' - 182))
           FILTER (WHERE category IN {asset}) AS aum_base_30d,
       sum(balance) FILTER (WHERE category IN {liability}
                            AND valid_from <= DATE '{as_of}' AND valid_to > DATE '{as_of}') AS liability_balance,
       sum(balance * margin_rate * overlap(valid_from, valid_to, DATE '{as_of}' - 89, DATE '{as_of}')) AS margin_90d
FROM spans
GROUP BY customer_id;

CREATE TEMP TABLE activity_features AS
WITH tx AS (
    SELECT a.customer_id, t.tx_date, t.amount, abs(t.amount) AS volume, t.channel, t.category,
           t.category NOT IN ('interest', 'fee') AND t.channel <> 'auto' AS initiated,
           t.tx_date >= DATE '{as_of}' - 89 AS in_90d
    FROM read_parquet('{lake}/transactions/*/*.parquet', hive_partitioning = false) t
    JOIN accounts a USING (account_id)
    WHERE t.tx_date <= DATE '{as_of}'
)
SELECT customer_id,
       count(*) FILTER (WHERE initiated AND in_90d) AS tx_count_90d,
       sum(volume) FILTER (WHERE initiated AND in_90d) AS volume_90d,
       sum(volume) FILTER (WHERE initiated AND tx_date BETWEEN DATE '{as_of}' - 271 AND DATE '{as_of}' - 182)
           AS volume_base,
       count(*) FILTER (WHERE initiated AND in_90d AND channel IN ('mobile', 'online')) AS mobile_90d,
       count(*) FILTER (WHERE initiated AND in_90d AND channel = 'counter') AS counter_90d,
       max(tx_date) FILTER (WHERE initiated) AS last_tx_date,
       count(DISTINCT date_trunc('month', tx_date)) FILTER (WHERE initiated AND tx_date >= DATE '{as_of}' - 181)
           AS active_months_6m,
       count(DISTINCT date_trunc('month', tx_date)) FILTER (WHERE category = 'payroll' AND amount > 0 AND in_90d)
           AS payroll_months_3m,
       sum(volume) FILTER (WHERE category = 'fee' AND in_90d) AS fees_90d
FROM tx
GROUP BY customer_id;

CREATE TEMP TABLE holding_features AS
SELECT customer_id,
       count(DISTINCT category) FILTER (WHERE is_open) AS product_count,
       count(*) FILTER (WHERE is_open) AS open_accounts
FROM (SELECT *, opened_on <= DATE '{as_of}' AND (closed_on IS NULL OR closed_on > DATE '{as_of}') AS is_open
      FROM accounts)
GROUP BY customer_id;

SELECT c.customer_id,
       coalesce(b.aum_30d::DOUBLE / 30, 0) AS aum_avg_30d,
       coalesce(b.aum_90d::DOUBLE / 90, 0) AS aum_avg_90d,
       coalesce(b.aum_180d::DOUBLE / 180, 0) AS aum_avg_180d,
       CASE WHEN b.aum_base_30d >= 30 * 10000
            THEN (coalesce(b.aum_30d, 0)::DOUBLE / 30 - b.aum_base_30d::DOUBLE / 30) / (b.aum_base_30d::DOUBLE / 30)
       END AS aum_growth_6m,
       coalesce(b.liability_balance::DOUBLE, 0) AS liability_balance,
       coalesce(t.tx_count_90d, 0)::BIGINT AS tx_count_90d,
       coalesce(t.volume_90d::DOUBLE, 0) AS tx_amount_90d,
       CASE WHEN t.volume_base >= 10000
            THEN (coalesce(t.volume_90d, 0)::DOUBLE - t.volume_base::DOUBLE) / t.volume_base::DOUBLE
       END AS tx_volume_growth_6m,
       CASE WHEN t.tx_count_90d > 0 THEN t.mobile_90d::DOUBLE / t.tx_count_90d END AS mobile_share_90d,
       CASE WHEN t.tx_count_90d > 0 THEN t.counter_90d::DOUBLE / t.tx_count_90d END AS counter_share_90d,
       t.last_tx_date,
       (DATE '{as_of}' - t.last_tx_date)::BIGINT AS recency_days,
       coalesce(t.active_months_6m, 0)::BIGINT AS active_months_6m,
       coalesce(t.payroll_months_3m, 0)::BIGINT AS payroll_months_3m,
       coalesce(h.product_count, 0)::BIGINT AS product_count,
       (year(DATE '{as_of}') - year(c.birth_date)
        - CASE WHEN month(c.birth_date) > {as_of_month}
                 OR (month(c.birth_date) = {as_of_month} AND day(c.birth_date) > {as_of_day}) THEN 1 ELSE 0 END)::BIGINT
           AS age,
       round((DATE '{as_of}' - c.onboard_date) / 365.25, 1) AS tenure_years,
       coalesce(b.margin_90d::DOUBLE / 90, 0) + coalesce(t.fees_90d::DOUBLE, 0) * 365 / 90 AS revenue_annual,
       (coalesce(t.counter_90d, 0) * 8.0 + (coalesce(t.tx_count_90d, 0) - coalesce(t.counter_90d, 0)) * 0.5) * 365 / 90
           + 20.0 * coalesce(h.open_accounts, 0) AS cost_annual,
       revenue_annual - cost_annual AS net_contribution
FROM read_parquet('{lake}/master/customers.parquet') c
LEFT JOIN balance_features b USING (customer_id)
LEFT JOIN activity_features t USING (customer_id)
LEFT JOIN holding_features h USING (customer_id)
ORDER BY c.customer_id
"""


def _sql_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def hand_sql(lake_dir: Path, as_of: date) -> str:
    """The baseline script for this lake and date (plain text substitution: no user input here)."""
    return HAND_SQL.format(
        lake=lake_dir.resolve().as_posix(),
        as_of=as_of.isoformat(),
        as_of_month=as_of.month,
        as_of_day=as_of.day,
        asset=_sql_list(ASSET),
        liability=_sql_list(LIABILITY),
        margin_rates=", ".join(f"('{k}', {v})" for k, v in MARGIN_RATES.items()),
    )


def features_hand_sql(lake_dir: Path, as_of: date) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    try:
        *setup, query = [s for s in hand_sql(lake_dir, as_of).split(";\n") if s.strip()]
        for statement in setup:
            con.execute(statement)
        return con.sql(query).to_arrow_table()
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# the pandas baseline
# --------------------------------------------------------------------------------------------


def _read(path: Path, columns: list[str], filters: list[tuple[str, str, Any]] | None = None) -> Any:
    """Parquet → pandas; money as integer cents (exact), dates as day offsets from as_of are made by the caller."""
    table = pq.read_table(path, columns=columns, filters=filters, partitioning=None if path.is_file() else "hive")
    for name in ("balance", "amount"):
        if name in table.column_names:
            cents = pc.cast(pc.multiply(table[name], pa.scalar(100, pa.decimal128(3, 0))), pa.int64())
            table = table.set_column(table.column_names.index(name), name, cents)
    return table.to_pandas(date_as_object=False)


def _days(series: Any, as_of: date) -> Any:
    """Whole days from as_of (negative in the past); NaT becomes a float NaN."""
    return (series - np.datetime64(as_of)).dt.days


def features_pandas(lake_dir: Path, as_of: date) -> pa.Table:
    import pandas as pd

    customers = _read(lake_dir / "master/customers.parquet", ["customer_id", "birth_date", "onboard_date"])
    accounts = _read(
        lake_dir / "master/accounts.parquet", ["account_id", "customer_id", "product_id", "opened_on", "closed_on"]
    )
    products = _read(lake_dir / "master/products.parquet", ["product_id", "category"])
    accounts = accounts.merge(products, on="product_id")
    accounts["margin_rate"] = accounts["category"].map(MARGIN_RATES).fillna(0.0)

    # balances: each row holds over [start, end) in day offsets from as_of
    bal = _read(lake_dir / "balances", ["account_id", "date", "balance"], [("date", "<=", as_of)])
    bal = bal.sort_values(["account_id", "date"])
    bal["start"] = _days(bal["date"], as_of)
    bal["end"] = bal.groupby("account_id")["start"].shift(-1).fillna(1)
    bal = bal.merge(accounts[["account_id", "customer_id", "category", "margin_rate", "closed_on"]], on="account_id")
    closed = _days(bal["closed_on"], as_of)
    bal["end"] = np.where(closed < bal["end"], closed, bal["end"])

    def overlap(rows: Any, first: int, last: int) -> Any:
        """Days of each row's [start, end) inside [first, last]."""
        return (np.minimum(rows["end"], last + 1) - np.maximum(rows["start"], first)).clip(lower=0).astype("int64")

    is_asset = bal["category"].isin(ASSET)
    bal["aum_30d"] = bal["balance"] * overlap(bal, -29, 0) * is_asset
    bal["aum_90d"] = bal["balance"] * overlap(bal, -89, 0) * is_asset
    bal["aum_180d"] = bal["balance"] * overlap(bal, -179, 0) * is_asset
    bal["aum_base"] = bal["balance"] * overlap(bal, -211, -182) * is_asset
    bal["liability"] = bal["balance"] * overlap(bal, 0, 0) * bal["category"].isin(LIABILITY)
    bal["margin"] = (bal["balance"] * overlap(bal, -89, 0)).astype("float64") * bal["margin_rate"]
    money = bal.groupby("customer_id")[["aum_30d", "aum_90d", "aum_180d", "aum_base", "liability", "margin"]].sum()
    del bal

    # transactions of the customer's accounts, up to as_of
    tx = _read(
        lake_dir / "transactions",
        ["account_id", "tx_date", "amount", "channel", "category"],
        [("tx_date", "<=", as_of)],
    )
    tx = tx.merge(accounts[["account_id", "customer_id"]], on="account_id")
    day = _days(tx["tx_date"], as_of)
    volume = tx["amount"].abs()
    initiated = ~tx["category"].isin(["interest", "fee"]) & (tx["channel"] != "auto")
    in_90d = day >= -89
    active = initiated & in_90d
    tx["n_90d"] = active
    tx["volume_90d"] = volume.where(active, 0)
    tx["volume_base"] = volume.where(initiated & (day >= -271) & (day <= -182), 0)
    tx["mobile_90d"] = active & tx["channel"].isin(["mobile", "online"])
    tx["counter_90d"] = active & (tx["channel"] == "counter")
    tx["fees_90d"] = volume.where((tx["category"] == "fee") & in_90d, 0)
    tx["month"] = tx["tx_date"].dt.to_period("M")
    sums = tx.groupby("customer_id")[
        ["n_90d", "volume_90d", "volume_base", "mobile_90d", "counter_90d", "fees_90d"]
    ].sum()
    sums["last_tx_date"] = tx[initiated].groupby("customer_id")["tx_date"].max()
    six_months = tx.loc[initiated & (day >= -181), ["customer_id", "month"]].drop_duplicates()
    sums["active_months_6m"] = six_months.groupby("customer_id").size()
    payroll = tx.loc[(tx["category"] == "payroll") & (tx["amount"] > 0) & in_90d, ["customer_id", "month"]]
    sums["payroll_months_3m"] = payroll.drop_duplicates().groupby("customer_id").size()
    del tx

    today = pd.Timestamp(as_of)
    is_open = (accounts["opened_on"] <= today) & (accounts["closed_on"].isna() | (accounts["closed_on"] > today))
    held = (
        accounts[is_open]
        .groupby("customer_id")
        .agg(product_count=("category", "nunique"), open_accounts=("account_id", "size"))
    )

    out = customers.set_index("customer_id").join(money).join(sums).join(held).sort_index()
    cents = out[["aum_30d", "aum_90d", "aum_180d", "aum_base", "liability", "volume_90d", "volume_base", "fees_90d"]]
    yuan = cents.astype("float64") / 100
    counts = out[
        [
            "n_90d",
            "mobile_90d",
            "counter_90d",
            "active_months_6m",
            "payroll_months_3m",
            "product_count",
            "open_accounts",
        ]
    ]
    counts = counts.fillna(0).astype("int64")
    f = pd.DataFrame(index=out.index)
    f["aum_avg_30d"] = (yuan["aum_30d"] / 30).fillna(0.0)
    f["aum_avg_90d"] = (yuan["aum_90d"] / 90).fillna(0.0)
    f["aum_avg_180d"] = (yuan["aum_180d"] / 180).fillna(0.0)
    base = yuan["aum_base"] / 30
    f["aum_growth_6m"] = ((f["aum_avg_30d"] - base) / base).where(out["aum_base"] >= 30 * 10_000 * 100)
    f["liability_balance"] = yuan["liability"].fillna(0.0)
    f["tx_count_90d"] = counts["n_90d"]
    f["tx_amount_90d"] = yuan["volume_90d"].fillna(0.0)
    f["tx_volume_growth_6m"] = ((f["tx_amount_90d"] - yuan["volume_base"]) / yuan["volume_base"]).where(
        out["volume_base"] >= 10_000 * 100
    )
    n = counts["n_90d"].where(counts["n_90d"] > 0)
    f["mobile_share_90d"] = counts["mobile_90d"] / n
    f["counter_share_90d"] = counts["counter_90d"] / n
    f["last_tx_date"] = out["last_tx_date"]
    f["recency_days"] = (today - out["last_tx_date"]).dt.days.astype("Int64")
    f["active_months_6m"] = counts["active_months_6m"]
    f["payroll_months_3m"] = counts["payroll_months_3m"]
    f["product_count"] = counts["product_count"]
    birth = out["birth_date"]
    not_yet = (birth.dt.month > as_of.month) | ((birth.dt.month == as_of.month) & (birth.dt.day > as_of.day))
    f["age"] = (as_of.year - birth.dt.year - not_yet.astype("int64")).astype("int64")
    f["tenure_years"] = ((today - out["onboard_date"]).dt.days / 365.25).round(1)
    f["revenue_annual"] = (out["margin"].fillna(0.0) / 100 / 90) + yuan["fees_90d"].fillna(0.0) * 365 / 90
    other = counts["n_90d"] - counts["counter_90d"]
    f["cost_annual"] = (counts["counter_90d"] * 8.0 + other * 0.5) * 365 / 90 + 20.0 * counts["open_accounts"]
    f["net_contribution"] = f["revenue_annual"] - f["cost_annual"]
    table = pa.Table.from_pandas(f.reset_index(), preserve_index=False)
    return table.set_column(
        table.column_names.index("last_tx_date"), "last_tx_date", table["last_tx_date"].cast(pa.date32())
    ).cast(FEATURE_SCHEMA)


# --------------------------------------------------------------------------------------------
# the product
# --------------------------------------------------------------------------------------------


def features_ibis(lake_dir: Path, as_of: date) -> pa.Table:
    from bankcrm.analytics.engines import compute_features

    return compute_features(lake_dir, as_of)


FEATURE_IMPLEMENTATIONS: dict[str, Callable[[Path, date], pa.Table]] = {
    "ibis": features_ibis,
    "sql": features_hand_sql,
    "pandas": features_pandas,
}
IMPLEMENTATION_LABELS = {
    "ibis": "Ibis on DuckDB (`compute_features`, the feature step's expressions alone)",
    "sql": "hand-written DuckDB SQL",
    "pandas": "pandas (pyarrow reader, groupby/merge)",
}


# --------------------------------------------------------------------------------------------
# child processes and their memory
# --------------------------------------------------------------------------------------------


def _own_peak_rss_bytes() -> int:
    """This process's peak resident memory.

    VmHWM belongs to the address space, which exec replaces; ru_maxrss does not restart at exec,
    so a spawned child would report its parent's size at fork time if that were larger.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _rusage() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "maxrss_bytes": _own_peak_rss_bytes(),
        "cpu_seconds": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
    }


def child_features(impl: str, lake_dir: str, as_of: str, out_path: str, conn: Any) -> None:
    """Time one feature implementation (imports excluded) and save its table for the comparison."""
    try:
        compute = FEATURE_IMPLEMENTATIONS[impl]
        if impl == "ibis":
            import ibis.backends.duckdb  # noqa: F401  (import time is not the feature step)

            import bankcrm.analytics.engines  # noqa: F401
        elif impl == "sql":
            import duckdb  # noqa: F401
        else:
            import pandas  # noqa: F401
        started = time.perf_counter()
        table = compute(Path(lake_dir), date.fromisoformat(as_of))
        seconds = time.perf_counter() - started
        pq.write_table(table, out_path)
        conn.send({"ok": True, "seconds": seconds, "rows": table.num_rows, **_rusage()})
    except BaseException as exc:  # reported to the parent, which decides what it means
        conn.send({"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    finally:
        conn.close()


def child_nightly(home: str, engine: str, as_of: str, conn: Any) -> None:
    """One ``run_nightly`` end to end, as ``bankcrm run`` does it."""
    try:
        from bankcrm.analytics.nightly import run_nightly
        from bankcrm.cli.common import open_engine
        from bankcrm.config import Settings

        settings = Settings(home=Path(home))
        db_engine = open_engine(settings)
        try:
            started = time.perf_counter()
            result = run_nightly(settings, db_engine, date.fromisoformat(as_of), engine=engine)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
        finally:
            db_engine.dispose()
        conn.send(
            {
                "ok": True,
                "seconds": seconds,
                "timings": result.timings,
                "customers": result.customers,
                "tiers": result.tiers,
                "rule_hits": result.rule_hits,
                "tasks_created": result.tasks_created,
                "opportunities_created": result.opportunities_created,
                **_rusage(),
            }
        )
    except NotImplementedError as exc:
        conn.send({"ok": False, "not_implemented": True, "error": f"NotImplementedError: {exc}"})
    except BaseException as exc:
        conn.send({"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
    finally:
        conn.close()


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants now (Linux /proc; 0 elsewhere)."""
    proc = Path("/proc")
    if not proc.exists():
        return 0
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * page
        except (OSError, ValueError, IndexError):
            continue
    family, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in family:
                family.add(child)
                frontier.append(child)
    return sum(rss.get(pid, 0) for pid in family)


def run_child(target: Callable[..., None], *args: str) -> dict[str, Any]:
    """Run ``target(*args, conn)`` in a fresh spawned interpreter; add wall seconds and the polled peak RSS."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=target, args=(*args, send))
    started = time.perf_counter()
    process.start()
    send.close()
    peak = 0
    result: dict[str, Any] | None = None
    while result is None:
        peak = max(peak, _tree_rss_bytes(process.pid or 0))
        if receive.poll(POLL_SECONDS):
            try:
                result = receive.recv()
            except EOFError:
                break
        elif not process.is_alive():
            break
    process.join()
    if result is None:
        result = {"ok": False, "error": f"child exited with code {process.exitcode} without a result"}
    result["wall_seconds"] = time.perf_counter() - started
    # the process's own high-water mark is exact; polling adds what it misses (a Spark JVM)
    result["peak_rss_bytes"] = max(peak, int(result.get("maxrss_bytes", 0)))
    return result


# --------------------------------------------------------------------------------------------
# comparing feature tables
# --------------------------------------------------------------------------------------------


def compare(reference: pa.Table, other: pa.Table, name: str, limit: int = 10) -> list[str]:
    """Every disagreement of ``other`` with ``reference`` (by customer), as printable lines."""
    problems: list[str] = []
    missing = [c for c in FEATURE_COLUMNS if c not in other.column_names]
    if missing:
        return [f"{name}: missing columns {missing}"]
    ref_ids = reference.column("customer_id").to_pylist()
    other_ids = other.column("customer_id").to_pylist()
    if ref_ids != other_ids:
        only_ref = sorted(set(ref_ids) - set(other_ids))[:limit]
        only_other = sorted(set(other_ids) - set(ref_ids))[:limit]
        return [f"{name}: different customers (only in Ibis: {only_ref}; only in {name}: {only_other})"]
    ids = np.asarray(ref_ids, dtype=object)
    for column in FEATURE_COLUMNS[1:]:
        a, b = reference.column(column), other.column(column)
        a_null = a.is_null().to_numpy(zero_copy_only=False)
        b_null = b.is_null().to_numpy(zero_copy_only=False)
        if column in FLOAT_COLUMNS:
            x = a.cast(pa.float64()).to_numpy(zero_copy_only=False)
            y = b.cast(pa.float64()).to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                close = np.abs(x - y) <= FLOAT_RTOL * np.maximum(np.abs(x), np.abs(y)) + FLOAT_ATOL
        elif column in DATE_COLUMNS:
            x = a.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
            y = b.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
            close = x == y
        else:
            x = a.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
            y = b.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
            close = x == y
        bad = (a_null != b_null) | (~a_null & ~b_null & ~close)
        count = int(bad.sum())
        if count:
            problems.append(f"{name}: {column} differs for {count:,} customers, e.g.")
            a_list, b_list = a.to_pylist(), b.to_pylist()
            for i in np.flatnonzero(bad)[:limit]:
                problems.append(f"    {ids[i]}: Ibis {a_list[i]!r} vs {name} {b_list[i]!r}")
    return problems


# --------------------------------------------------------------------------------------------
# one size
# --------------------------------------------------------------------------------------------


def prepare_home(size_dir: Path, customers: int, months: int, reuse: bool) -> dict[str, Any]:
    """A home loaded with the bundle for this size: reused if asked and present, otherwise built fresh."""
    home = size_dir / "home"
    marker = home / MARKER
    wanted = {"customers": customers, "months": months, "seed": SEED, "as_of": AS_OF.isoformat()}
    if reuse and marker.exists():
        loaded = json.loads(marker.read_text())
        if all(loaded.get(k) == v for k, v in wanted.items()):
            print(f"reusing the home loaded on {loaded.get('loaded_at')}", flush=True)
            return {**loaded, "reused": True}
        print("the home there was loaded with other parameters; building a fresh one", flush=True)

    from bankcrm.cli.common import open_engine
    from bankcrm.config import Settings
    from bankcrm.ingest.service import ingest_bundle
    from bankcrm.synth import generate_bundle

    shutil.rmtree(size_dir, ignore_errors=True)
    bundle = size_dir / "bundle"
    print(f"generating {customers:,} customers × {months} months …", flush=True)
    started = time.perf_counter()
    summary = generate_bundle(bundle, customers=customers, months=months, seed=SEED, as_of=AS_OF, fmt="parquet")
    generate_seconds = time.perf_counter() - started
    print(f"  {generate_seconds:.1f} s; loading …", flush=True)
    settings = Settings(home=home)
    db_engine = open_engine(settings)
    try:
        started = time.perf_counter()
        report = ingest_bundle(settings, db_engine, bundle)
        ingest_seconds = time.perf_counter() - started
    finally:
        db_engine.dispose()
    if not report.ok:
        raise SystemExit(f"the bundle did not load cleanly:\n{report.to_json()}")
    print(f"  {ingest_seconds:.1f} s", flush=True)
    shutil.rmtree(bundle)  # the lake holds everything the runs read; the bundle only takes disk
    loaded = {
        **wanted,
        "generate_seconds": round(generate_seconds, 2),
        "ingest_seconds": round(ingest_seconds, 2),
        "bundle_rows": summary.rows,
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    marker.write_text(json.dumps(loaded, indent=2))
    return {**loaded, "reused": False}


def lake_rows(lake_dir: Path) -> dict[str, int]:
    """Rows of the fact tables in the lake, from the Parquet footers."""
    return {
        table: sum(pq.ParquetFile(f).metadata.num_rows for f in sorted((lake_dir / table).glob("month=*/*.parquet")))
        for table in ("balances", "transactions")
    }


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def bench_size(customers: int, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    size_dir = args.work / f"c{customers}-m{args.months}"
    load = prepare_home(size_dir, customers, args.months, args.reuse)
    home = size_dir / "home"
    lake_dir = home / "lake"
    as_of = AS_OF.isoformat()
    out: dict[str, Any] = {
        "customers": customers,
        "months": args.months,
        "load": load,
        "lake_rows": lake_rows(lake_dir),
    }

    def note(what: str) -> None:
        load1, _, _ = os.getloadavg()
        print(f"  {what} (load {load1:.1f}) …", flush=True)

    runs: list[dict[str, Any]] = []
    for i in range(args.repeat):
        note(f"nightly run {i + 1}/{args.repeat} on DuckDB")
        result = run_child(child_nightly, str(home), "duckdb", as_of)
        if not result["ok"]:
            raise SystemExit(f"the nightly run failed: {result['error']}\n{result.get('traceback', '')}")
        result["load_average"] = os.getloadavg()[0]
        runs.append(result)
    out["nightly"] = {
        "runs": runs,
        "seconds": median([r["seconds"] for r in runs]),
        "cpu_seconds": median([r["cpu_seconds"] for r in runs]),
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs),
        "timings": {step: median([r["timings"][step] for r in runs]) for step in runs[0]["timings"]},
    }

    if args.spark:
        spark_runs: list[dict[str, Any]] = []
        for i in range(args.repeat):
            note(f"nightly run {i + 1}/{args.repeat} on Spark (local)")
            result = run_child(child_nightly, str(home), "spark", as_of)
            spark_runs.append(result)
            if not result["ok"]:
                print(f"  Spark: {result['error']} — recorded as n/a", flush=True)
                break
        ok = [r for r in spark_runs if r["ok"]]
        out["spark"] = {
            "runs": spark_runs,
            "seconds": median([r["seconds"] for r in ok]) if ok else None,
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in ok) if ok else None,
            "timings": {step: median([r["timings"][step] for r in ok]) for step in ok[0]["timings"]} if ok else {},
            "error": None if ok else spark_runs[-1]["error"],
        }

    impls = ["ibis", "sql"] + ([] if args.skip_pandas else ["pandas"])
    feature_runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
    tables_dir = size_dir / "features"
    tables_dir.mkdir(exist_ok=True)
    for i in range(args.repeat):  # interleaved, so a noisy neighbour hits all of them alike
        for impl in impls:
            note(f"feature table {i + 1}/{args.repeat}: {impl}")
            result = run_child(child_features, impl, str(lake_dir), as_of, str(tables_dir / f"{impl}.parquet"))
            if not result["ok"]:
                raise SystemExit(f"{impl} features failed: {result['error']}\n{result.get('traceback', '')}")
            feature_runs[impl].append(result)
    out["features"] = {
        impl: {
            "runs": rs,
            "seconds": median([r["seconds"] for r in rs]),
            "cpu_seconds": median([r["cpu_seconds"] for r in rs]),
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rs),
        }
        for impl, rs in feature_runs.items()
    }

    reference = pq.read_table(tables_dir / "ibis.parquet")
    problems: list[str] = []
    for impl in impls[1:]:
        problems += compare(reference, pq.read_table(tables_dir / f"{impl}.parquet"), impl)
    out["agreement"] = {"ok": not problems, "problems": problems, "compared": impls}
    return out, problems


# --------------------------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------------------------


def _gb(n: float | None) -> str:
    return "n/a" if n is None else f"{n / GB:.2f} GB"


def markdown_size(r: dict[str, Any], repeat: int) -> str:
    n = r["customers"]
    nightly = r["nightly"]
    rows = r["lake_rows"]
    load = r["load"]
    lines = [
        f"#### {n:,} customers × {r['months']} months",
        "",
        f"Lake: {rows['transactions']:,} transactions, {rows['balances']:,} balance rows. "
        f"Bundle generated in {load['generate_seconds']:.1f} s and loaded in {load['ingest_seconds']:.1f} s "
        "(not the subject here)." + (f" Medians of {repeat} runs." if repeat > 1 else ""),
        "",
        "| nightly step (DuckDB) | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {step} | {sec:.2f} |" for step, sec in nightly["timings"].items()]
    lines += [
        f"| **end to end** | **{nightly['seconds']:.2f}** |",
        f"| CPU seconds (user + system) | {nightly['cpu_seconds']:.1f} |",
        f"| peak RSS | {_gb(nightly['peak_rss_bytes'])} |",
    ]
    if "spark" in r:
        spark = r["spark"]
        shown = "n/a" if spark["seconds"] is None else f"{spark['seconds']:.2f}"
        lines.append(f"| Spark local end to end | {shown} |")
        if spark["seconds"] is not None:
            lines.append(f"| Spark peak RSS (driver + JVM) | {_gb(spark['peak_rss_bytes'])} |")
    feats = r["features"]
    ibis_s = feats["ibis"]["seconds"]
    lines += ["", "| feature table | seconds | CPU s (child) | peak RSS | ratio |", "|---|---:|---:|---:|---:|"]
    for impl, f in feats.items():
        ratio = {
            "ibis": "—",
            "sql": f"Ibis ÷ SQL = {ibis_s / f['seconds']:.2f}×",
            "pandas": f"pandas ÷ Ibis = {f['seconds'] / ibis_s:.1f}×",
        }[impl]
        lines.append(
            f"| {IMPLEMENTATION_LABELS[impl]} | {f['seconds']:.2f} | {f['cpu_seconds']:.1f} "
            f"| {_gb(f['peak_rss_bytes'])} | {ratio} |"
        )
    agreement = r["agreement"]
    verdict = "agree" if agreement["ok"] else "DISAGREE"
    lines += ["", f"The feature tables {verdict} ({', '.join(agreement['compared'])}; floats to 1e-9 relative)."]
    return "\n".join(lines)


def markdown_scaling(results: list[dict[str, Any]]) -> str:
    lines = [
        "| customers | end to end s | per 100k s | feature step s | per 100k s | hand SQL s | pandas s | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per = r["customers"] / 100_000
        e2e, feat = r["nightly"]["seconds"], r["features"]["ibis"]["seconds"]
        pandas = f"{r['features']['pandas']['seconds']:.2f}" if "pandas" in r["features"] else "skipped"
        lines.append(
            f"| {r['customers']:,} | {e2e:.1f} | {e2e / per:.1f} | {feat:.1f} | {feat / per:.1f} "
            f"| {r['features']['sql']['seconds']:.1f} | {pandas} | {_gb(r['nightly']['peak_rss_bytes'])} |"
        )
    if len(results) > 1:
        a, b = results[0], results[-1]
        size = b["customers"] / a["customers"]
        growth = b["nightly"]["seconds"] / a["nightly"]["seconds"]
        lines += [
            "",
            f"{size:.1f}× the customers took {growth:.2f}× the end-to-end time (linear would be {size:.1f}×).",
        ]
    largest = results[-1]
    estimate = largest["nightly"]["seconds"] * 1_000_000 / largest["customers"]
    lines += [
        "",
        "Targets (reported, not asserted): 1M customers end to end ≤ 300 s and peak RSS ≤ 8 GB; "
        "feature step ≤ 1.5× the hand SQL; ≥ 10× faster than pandas; near-linear growth. "
        f"Linear extrapolation of the largest size here to 1M: ~{estimate:.0f} s end to end.",
    ]
    return "\n".join(lines)


def git_commit() -> str:
    """Short hash of the checkout whose ``bankcrm`` is measured (PYTHONPATH may point at another worktree).

    ``+dirty`` when that checkout's package sources have uncommitted changes.
    """
    spec = importlib.util.find_spec("bankcrm")
    where = Path(spec.origin).parent if spec is not None and spec.origin else Path.cwd()
    try:
        git = ["git", "-C", str(where)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        status = subprocess.run([*git, "status", "--porcelain", "."], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of customer counts, got {text!r}") from None
    if not sizes or any(s < 100 for s in sizes):
        raise argparse.ArgumentTypeError("every size must be at least 100 customers")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=parse_sizes, default=[100_000], help="sizes, e.g. 100000,300000")
    parser.add_argument("--months", type=int, default=6, help="months of history (default 6)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"work folder (default {DEFAULT_WORK})")
    parser.add_argument("--reuse", action="store_true", help="reuse a home already generated and loaded for a size")
    parser.add_argument("--spark", action="store_true", help="also time run_nightly on local Spark")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are reported")
    parser.add_argument("--skip-pandas", action="store_true", help="leave out the pandas baseline (large sizes)")
    parser.add_argument("--results", type=Path, help=f"JSON output (default: {RESULTS_NAME} next to the work folder)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.work.mkdir(parents=True, exist_ok=True)
    results_path = args.results or args.work.parent / RESULTS_NAME

    import duckdb
    import ibis

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = {
        "date": stamp,
        "commit": git_commit(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
        "pandas": __import__("pandas").__version__,
        "pyarrow": pa.__version__,
    }
    command = "python benchmarks/nightly.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    for customers in args.customers:
        print(f"\n== {customers:,} customers", flush=True)
        result, problems = bench_size(customers, args)
        results.append(result)
        if problems:
            failed = problems
            break
    machine["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    document = {
        "machine": machine,
        "command": command,
        "as_of": AS_OF.isoformat(),
        "repeat": args.repeat,
        "sizes": results,
    }
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(document, indent=2, default=str))

    print(
        f"\nNightly run — {stamp} to {machine['finished']}, commit {machine['commit']}, "
        f"{machine['cpus']} cores, {machine['memory_gb']:.0f} GB, "
        f"Python {machine['python']}, DuckDB {machine['duckdb']}, Ibis {machine['ibis']}, pandas {machine['pandas']}\n"
    )
    print(f"`{command}`\n")
    for r in results:
        print(markdown_size(r, args.repeat) + "\n")
    print("#### Scaling\n")
    print(markdown_scaling(results))
    print(f"\nresults: {results_path}")
    if failed:
        print(
            "\nTHE FEATURE TABLES DISAGREE — the baselines and the product compute different things:", file=sys.stderr
        )
        print("\n".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
