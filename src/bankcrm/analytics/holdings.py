"""Account positions and month-end AUM for the customer 360 view, as pure Ibis expressions.

Built on ``features.balance_intervals``, so bal(a, d) means exactly what it means for the
nightly features (SPEC 4.1): the latest balance row on or before d, 0 before the first row
and from ``closed_on`` onwards. Nothing here reads or writes; the same expressions run on
DuckDB and Spark.

The trend covers 12 month-ends: the last day of each of the 11 months before as_of's month,
and as_of itself (the current month so far). For each of them: ``aum`` = aum(c, month_end),
``aum_avg`` = the mean of aum(c, d) over the days of that month up to month_end (月日均), and
``liability`` = Σ bal(a, month_end) over liability accounts.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from bankcrm.analytics.features import DayWindow, account_balance_sums, window_column
from bankcrm.reference import ASSET_CATEGORIES, LIABILITY_CATEGORIES

TREND_MONTHS = 12
POSITION_CATEGORIES = ASSET_CATEGORIES + LIABILITY_CATEGORIES


def month_ends(as_of: date, months: int = TREND_MONTHS) -> list[date]:
    """The last day of each of the ``months − 1`` months before as_of's month, then as_of; oldest first."""
    ends = [as_of]
    first_of_month = as_of.replace(day=1)
    for _ in range(months - 1):
        end = first_of_month - timedelta(days=1)
        ends.append(end)
        first_of_month = end.replace(day=1)
    return ends[::-1]


def month_windows(as_of: date, months: int = TREND_MONTHS) -> list[DayWindow]:
    """For each month-end: [first day of its month, month_end] in day offsets from as_of."""
    return [
        DayWindow(first=(end.replace(day=1) - as_of).days, last=(end - as_of).days) for end in month_ends(as_of, months)
    ]


def _round_cents(value: ir.NumericValue) -> ir.FloatingValue:
    return value.cast("float64").round(2)


POSITION_WINDOW = DayWindow.ending_at_as_of(30)


def holding_balance_windows(as_of: date, months: int = TREND_MONTHS) -> dict[str, DayWindow]:
    """The per-account windows of the positions and the trend: each month-end, each month so far, the last 30 days."""
    windows: dict[str, DayWindow] = {}
    for i, w in enumerate(month_windows(as_of, months)):
        windows[f"end_{i}"] = DayWindow(w.last, w.last)
        windows[f"sum_{i}"] = w
    windows["sum_30d"] = POSITION_WINDOW
    return windows


def account_month_balances(
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    as_of: date,
    months: int = TREND_MONTHS,
    *,
    account_sums: ir.Table | None = None,
) -> ir.Table:
    """Per asset or liability account opened by as_of: its category and, for each month-end i, two sums.

    ``end_i`` = bal(a, month_end_i); ``sum_i`` = Σ bal(a, d) over the days of month i up to
    month_end_i; ``sum_30d`` = Σ bal(a, d) over [as_of − 29, as_of]. Each is
    Σ_rows balance × (days the row holds inside the window), from ``account_balance_sums`` —
    the run's shared one when given as ``account_sums``, so the positions and the trend read the
    balance rows no second time. Accounts without balance rows hold 0.
    """
    windows = holding_balance_windows(as_of, months)
    typed = accounts.join(products.select("product_id", "category"), "product_id", how="inner")
    typed = typed.filter(
        typed.category.isin(POSITION_CATEGORIES),
        typed.opened_on.isnull() | (typed.opened_on <= ibis.date(as_of)),
    ).select("account_id", "customer_id", "product_id", "category", "closed_on")
    sums = account_sums
    if sums is None:
        sums = account_balance_sums(balances, accounts, as_of, windows.values())
    per_account = sums.select("account_id", **{name: sums[window_column(w)] for name, w in windows.items()})
    joined = typed.left_join(per_account, typed.account_id == per_account.account_id)
    return joined.select(
        typed.account_id,
        typed.customer_id,
        typed.product_id,
        typed.category,
        typed.closed_on,
        **{name: joined[name].fill_null(0) for name in windows},
    )


def account_positions(account_months: ir.Table, as_of: date) -> ir.Table:
    """Positions at as_of from ``account_month_balances``: open accounts, and closed ones with a balance in 30 days.

    Columns: account_id, customer_id, product_id, category, balance (bal at as_of),
    balance_avg_30d (mean over [as_of − 29, as_of]); amounts rounded to cents.
    """
    last = max(int(c.split("_")[1]) for c in account_months.columns if c.startswith("end_"))
    t = account_months
    out = t.select(
        "account_id",
        "customer_id",
        "product_id",
        "category",
        "closed_on",
        balance=_round_cents(t[f"end_{last}"]),
        balance_avg_30d=_round_cents(t.sum_30d.cast("float64") / POSITION_WINDOW.days),
    )
    still_open = out.closed_on.isnull() | (out.closed_on > ibis.date(as_of))
    # an account closed within the last 30 days stays, so that the positions' 30-day averages add up to
    # the customer's aum_avg_30d
    return out.filter(still_open | (out.balance != 0) | (out.balance_avg_30d != 0)).drop("closed_on")


def customer_month_aum_wide(account_months: ir.Table, as_of: date, months: int = TREND_MONTHS) -> ir.Table:
    """Per customer with an asset or liability account: aum_i, aum_avg_i, liability_i, i = 0 (oldest) … months − 1."""
    rows = account_months
    is_asset = rows.category.isin(ASSET_CATEGORIES)
    is_liability = rows.category.isin(LIABILITY_CATEGORIES)
    aggregates: dict[str, ir.Value] = {}
    for i, w in enumerate(month_windows(as_of, months)):
        aggregates[f"aum_{i}"] = _round_cents(rows[f"end_{i}"].sum(where=is_asset).fill_null(0))
        aggregates[f"aum_avg_{i}"] = _round_cents(
            rows[f"sum_{i}"].sum(where=is_asset).fill_null(0).cast("float64") / w.days
        )
        aggregates[f"liability_{i}"] = _round_cents(rows[f"end_{i}"].sum(where=is_liability).fill_null(0))
    return rows.group_by("customer_id").aggregate(**aggregates)


MONTH_AUM_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("month_end", pa.date32()),
        ("aum", pa.float64()),
        ("aum_avg", pa.float64()),
        ("liability", pa.float64()),
    ]
)


def month_aum_long(wide: pa.Table, as_of: date, months: int = TREND_MONTHS) -> pa.Table:
    """The wide table as one row per customer and month-end, leaving out months where all three are zero."""
    parts = []
    for i, end in enumerate(month_ends(as_of, months)):
        aum, avg, liability = (
            wide.column(f"{name}_{i}").cast(pa.float64()) for name in ("aum", "aum_avg", "liability")
        )
        part = pa.table(
            {
                "customer_id": wide.column("customer_id"),
                "month_end": pa.array([end] * wide.num_rows, pa.date32()),
                "aum": aum,
                "aum_avg": avg,
                "liability": liability,
            },
            schema=MONTH_AUM_SCHEMA,
        )
        held = pc.or_(pc.or_(pc.not_equal(aum, 0.0), pc.not_equal(avg, 0.0)), pc.not_equal(liability, 0.0))
        parts.append(part.filter(held))
    if not parts:
        return MONTH_AUM_SCHEMA.empty_table()
    return pa.concat_tables(parts).sort_by([("customer_id", "ascending"), ("month_end", "ascending")])
