"""Per-customer features of the nightly run (SPEC 4.1, 4.2 and the 4.4 inputs) as pure Ibis expressions.

Every function takes Ibis tables shaped like the lake (``bankcrm.lake``) and returns an Ibis
table; nothing here reads or writes data, so the same expressions run on DuckDB or Spark.

Dates are handled as whole-day offsets from as_of (``date - as_of``: 0 is as_of, -89 is
as_of − 89), which keeps every window an integer comparison on both engines. Money stays
decimal while it is summed (exact, so a base of exactly ¥10,000 is exactly 10,000) and is
cast to float64 once per customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from bankcrm.analytics.config import NightlyConfig
from bankcrm.reference import ASSET_CATEGORIES, LIABILITY_CATEGORIES, NON_CUSTOMER_TX_CATEGORIES
from bankcrm.scores.columns import FEATURE_COLUMNS

DAYS_PER_YEAR = 365
# aum_avg_30d, aum_avg_90d, aum_avg_180d; the growth base is a 30-day mean too
AUM_WINDOWS_DAYS = (30, 90, 180)
GROWTH_BASE_DAYS = 30
MOBILE_CHANNELS = ("mobile", "online")
COUNTER_CHANNEL = "counter"


@dataclass(frozen=True)
class DayWindow:
    """Inclusive window [as_of + first, as_of + last] in day offsets (both ≤ 0)."""

    first: int
    last: int

    @property
    def days(self) -> int:
        return self.last - self.first + 1

    @classmethod
    def ending_at_as_of(cls, days: int, lag: int = 0) -> DayWindow:
        """The ``days``-day window ending ``lag`` days before as_of: [as_of − lag − days + 1, as_of − lag]."""
        return cls(first=-lag - days + 1, last=-lag)

    def contains(self, offset: ir.IntegerValue) -> ir.BooleanValue:
        return (offset >= self.first) & (offset <= self.last)


def day_offset(day: ir.DateValue, as_of: date) -> ir.IntegerValue:
    """Whole days from as_of to ``day`` (negative in the past)."""
    return day.delta(ibis.date(as_of), unit="day")


def _to_float(value: ir.NumericValue) -> ir.FloatingValue:
    return value.cast("float64")


def _growth(current: ir.FloatingValue, base: ir.FloatingValue, min_base: float) -> ir.FloatingValue:
    """(current − base) / base, null when the base is below ``min_base`` (or missing)."""
    return ibis.ifelse(base >= min_base, (current - base) / base, ibis.null("float64"))


def balance_intervals(balances: ir.Table, accounts: ir.Table, as_of: date) -> ir.Table:
    """Each balance row as the half-open day range it holds for: [start_day, end_day) in offsets from as_of.

    A row holds from its date until the account's next row (bal(a, d) is the latest row
    with date ≤ d), ending no later than as_of + 1 (rows after as_of are ignored) and no
    later than closed_on (the balance is 0 from closed_on onwards). A range may be empty.
    """
    rows = balances.filter(balances.date <= ibis.date(as_of))
    rows = rows.select(
        "account_id",
        "balance",
        start_day=day_offset(rows.date, as_of),
    )
    by_account = ibis.window(group_by=rows.account_id, order_by=rows.start_day)
    rows = rows.mutate(next_day=rows.start_day.lead().over(by_account).fill_null(1))
    closures = accounts.select(
        "account_id",
        closed_day=day_offset(accounts.closed_on, as_of),
    )
    rows = rows.join(closures, "account_id", how="inner")
    end_day = ibis.ifelse(
        rows.closed_day.notnull() & (rows.closed_day < rows.next_day),
        rows.closed_day,
        rows.next_day,
    )
    return rows.select("account_id", "balance", "start_day", end_day=end_day)


def _days_inside(intervals: ir.Table, window: DayWindow) -> ir.IntegerValue:
    """Days of [start_day, end_day) that fall inside ``window``."""
    start = ibis.greatest(intervals.start_day, window.first)
    end = ibis.least(intervals.end_day, window.last + 1)
    return ibis.ifelse(end > start, end - start, 0)


def window_column(window: DayWindow) -> str:
    """Name of the per-account column holding Σ balance × days inside ``window`` (e.g. ``bal_days_m29_0``)."""

    def part(offset: int) -> str:
        return f"m{-offset}" if offset < 0 else str(offset)

    return f"bal_days_{part(window.first)}_{part(window.last)}"


def account_balance_sums(balances: ir.Table, accounts: ir.Table, as_of: date, windows: Iterable[DayWindow]) -> ir.Table:
    """Per account with a balance row on or before as_of: Σ bal(a, d) over the days of each window, exactly.

    One pass over the balance rows serves every window a run needs (features, trigger facts,
    lifetime value, the 360 view's trend): each row's day range is intersected with each window,
    Σ_rows balance × (days the row holds inside the window), kept decimal (exact). Column names
    come from ``window_column``; the same window asked for twice is one column. Accounts without
    rows are absent (callers fill 0).
    """
    intervals = balance_intervals(balances, accounts, as_of)
    unique = dict.fromkeys(windows)
    return intervals.group_by("account_id").aggregate(
        **{window_column(w): (intervals.balance * _days_inside(intervals, w)).sum() for w in unique}
    )


def feature_balance_windows(config: NightlyConfig) -> dict[str, DayWindow]:
    """The windows of the per-account means the features use: AUM, growth base, revenue, and the as_of day."""
    windows: dict[str, DayWindow] = {f"avg_{n}d": DayWindow.ending_at_as_of(n) for n in AUM_WINDOWS_DAYS}
    windows["avg_base"] = DayWindow.ending_at_as_of(GROWTH_BASE_DAYS, lag=config.growth_lag_days)
    windows["avg_revenue"] = DayWindow.ending_at_as_of(config.activity_window_days)
    windows["balance_at_as_of"] = DayWindow(0, 0)
    return windows


def account_balance_averages(
    balances: ir.Table,
    accounts: ir.Table,
    as_of: date,
    config: NightlyConfig | None = None,
    *,
    account_sums: ir.Table | None = None,
) -> ir.Table:
    """Per account: mean daily balance over the AUM, growth-base and revenue windows, and bal at as_of.

    mean over [as_of − N + 1, as_of] = Σ_rows balance × (days the row holds inside the window) / N,
    days with no row counting 0. Accounts without rows are absent (callers fill 0).
    ``account_sums``: the run's shared ``account_balance_sums`` holding at least these windows
    (computed here from ``balances`` when not given).
    """
    config = config or NightlyConfig()
    windows = feature_balance_windows(config)
    sums = account_sums
    if sums is None:
        sums = account_balance_sums(balances, accounts, as_of, windows.values())
    return sums.select(
        "account_id",
        **{name: _to_float(sums[window_column(w)]) / w.days for name, w in windows.items()},
    )


def customer_balance_features(
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    as_of: date,
    config: NightlyConfig | None = None,
    *,
    account_sums: ir.Table | None = None,
) -> ir.Table:
    """Per customer with accounts: AUM means, aum_growth_6m, liability_balance and the margin revenue.

    revenue_margin = Σ over all accounts of (90-day mean balance × margin rate of the category).
    """
    config = config or NightlyConfig()
    averages = account_balance_averages(balances, accounts, as_of, config, account_sums=account_sums)
    typed = accounts.select("account_id", "customer_id", "product_id").join(
        products.select("product_id", "category"), "product_id", how="inner"
    )
    per_account = left_join_on(typed, averages, "account_id")
    columns = [c for c in averages.columns if c != "account_id"]
    per_account = per_account.mutate(**{c: per_account[c].fill_null(0.0) for c in columns})
    is_asset = per_account.category.isin(ASSET_CATEGORIES)
    is_liability = per_account.category.isin(LIABILITY_CATEGORIES)
    margin = per_account.category.substitute(config.margin_rates, else_=0.0).cast("float64")
    per_customer = per_account.group_by("customer_id").aggregate(
        aum_avg_30d=per_account.avg_30d.sum(where=is_asset),
        aum_avg_90d=per_account.avg_90d.sum(where=is_asset),
        aum_avg_180d=per_account.avg_180d.sum(where=is_asset),
        aum_avg_30d_base=per_account.avg_base.sum(where=is_asset),
        liability_balance=per_account.balance_at_as_of.sum(where=is_liability),
        revenue_margin=(per_account.avg_revenue * margin).sum(),
    )
    filled = per_customer.mutate(
        **{
            c: per_customer[c].fill_null(0.0)
            for c in ("aum_avg_30d", "aum_avg_90d", "aum_avg_180d", "aum_avg_30d_base", "liability_balance")
        }
    )
    return filled.select(
        "customer_id",
        "aum_avg_30d",
        "aum_avg_90d",
        "aum_avg_180d",
        aum_growth_6m=_growth(filled.aum_avg_30d, filled.aum_avg_30d_base, config.growth_min_base),
        liability_balance=filled.liability_balance,
        revenue_margin=filled.revenue_margin.fill_null(0.0),
    )


def left_join_on(left: ir.Table, right: ir.Table, key: str) -> ir.Table:
    """Left join keeping one ``key`` column (Ibis keeps the right key of an outer join)."""
    joined = left.left_join(right, left[key] == right[key])
    return joined.select(left, *(joined[c] for c in right.columns if c != key))


def is_customer_initiated(transactions: ir.Table) -> ir.BooleanValue:
    """Not booked by the bank itself: category other than interest/fee, channel other than auto."""
    return ~transactions.category.isin(NON_CUSTOMER_TX_CATEGORIES) & (transactions.channel != "auto")


def _transaction_flags(tx: ir.Table) -> dict[str, ir.BooleanValue]:
    """What a run counts of one transaction, by name; the one place these conditions are written.

    ``initiated`` (customer-initiated), ``mobile`` and ``counter`` among those, ``fee`` (any
    channel), ``payroll`` (positive payroll, any channel), ``baby_purchase`` (purchases at
    merchant group baby).
    """
    initiated = is_customer_initiated(tx)
    return {
        "initiated": initiated,
        "mobile": initiated & tx.channel.isin(MOBILE_CHANNELS),
        "counter": initiated & (tx.channel == COUNTER_CHANNEL),
        "fee": tx.category == "fee",
        "payroll": (tx.category == "payroll") & (tx.amount > 0),
        "baby_purchase": (tx.category == "purchase") & (tx.merchant_group == "baby"),
    }


def _owned_transactions(accounts: ir.Table, transactions: ir.Table, as_of: date) -> ir.Table:
    """Transactions on or before as_of with their owner's customer_id."""
    tx = transactions.filter(transactions.tx_date <= ibis.date(as_of))
    return tx.join(accounts.select("account_id", "customer_id"), "account_id", how="inner")


def customer_days(accounts: ir.Table, transactions: ir.Table, as_of: date) -> ir.Table:
    """Per customer and tx_date (on or before as_of): what the run's steps need to know of that day's transactions.

    Counts and exact decimal sums, so any window or month of days sums back to exactly what the
    transactions give: ``initiated_count`` / ``initiated_volume`` (customer-initiated, Σ|amount|),
    ``mobile_count`` and ``counter_count`` among those, ``fee_volume`` (Σ|amount| of fees, any
    channel), ``payroll_count`` (positive payroll, any channel), ``baby_purchase_count``
    (purchases at merchant group baby). Sums are null on a day without such transactions.
    """
    tx = _owned_transactions(accounts, transactions, as_of)
    flags = _transaction_flags(tx)
    volume = tx.amount.abs()
    return tx.group_by(["customer_id", "tx_date"]).aggregate(
        initiated_count=tx.amount.count(where=flags["initiated"]),
        initiated_volume=volume.sum(where=flags["initiated"]),
        mobile_count=tx.amount.count(where=flags["mobile"]),
        counter_count=tx.amount.count(where=flags["counter"]),
        fee_volume=volume.sum(where=flags["fee"]),
        payroll_count=tx.amount.count(where=flags["payroll"]),
        baby_purchase_count=tx.amount.count(where=flags["baby_purchase"]),
    )


def transaction_rows(accounts: ir.Table, transactions: ir.Table, as_of: date) -> ir.Table:
    """``customer_days``' columns for each transaction on or before as_of, without the grouping by day.

    Each count is 1 or 0 and each volume is |amount| or null, so a sum over any set of these rows
    equals the sum over the same days of ``customer_days``. Aggregates made only of such sums,
    of the latest or earliest tx_date with a count above 0, and of ``months_with`` give the same
    answer over either table (``activity_aggregates``, ``lifetime.history_aggregates``,
    ``rule_features.complete_month_aggregates``); counting rows does not (``rfm_aggregates``
    counts days, so it needs ``customer_days``). A step computed alone sums these rows straight
    into one row per customer, skipping the per-day grouping (one row per customer and day,
    nearly as many as there are transactions), which only the run's shared summary needs.
    """
    tx = _owned_transactions(accounts, transactions, as_of)
    flags = _transaction_flags(tx)
    volume = tx.amount.abs()
    one, zero = ibis.literal(1, type="int64"), ibis.literal(0, type="int64")
    no_volume = ibis.null(volume.type())

    def count(flag: str) -> ir.IntegerValue:
        return ibis.ifelse(flags[flag], one, zero)

    def amount(flag: str) -> ir.NumericValue:
        return ibis.ifelse(flags[flag], volume, no_volume)

    return tx.select(
        "customer_id",
        "tx_date",
        initiated_count=count("initiated"),
        initiated_volume=amount("initiated"),
        mobile_count=count("mobile"),
        counter_count=count("counter"),
        fee_volume=amount("fee"),
        payroll_count=count("payroll"),
        baby_purchase_count=count("baby_purchase"),
    )


def months_with(day: ir.DateValue, condition: ir.BooleanValue, first: date, last: date) -> ir.IntegerValue:
    """Distinct calendar months with a day in [first, last] meeting ``condition``, as an aggregate.

    One filtered count per calendar month of the window (a window of days spans a handful of
    months) instead of a DISTINCT aggregate: the same number, in a plain grouped aggregate that
    both engines run in bounded memory next to the run's other per-customer sums.
    """
    total: ir.IntegerValue = ibis.literal(0, type="int64")
    start = first.replace(day=1)
    while start <= last:
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        lo, hi = max(start, first), min(following - timedelta(days=1), last)
        seen = day.count(where=condition & (day >= ibis.date(lo)) & (day <= ibis.date(hi)))
        total = total + ibis.ifelse(seen > 0, 1, 0)
        start = following
    return total


def summarise_days(days: ir.Table, aggregates: dict[str, ir.Value]) -> ir.Table:
    """Per customer: the given aggregates over ``customer_days`` (or ``transaction_rows``) rows, in one pass."""
    return days.group_by("customer_id").aggregate(**aggregates)


def activity_aggregates(days: ir.Table, as_of: date, config: NightlyConfig | None = None) -> dict[str, ir.Value]:
    """The SPEC 4.2 activity sums over ``customer_days`` or ``transaction_rows``, as aggregates for ``summarise_days``.

    Windows by tx_date (already the Asia/Shanghai calendar date): activity [as_of − 89, as_of];
    growth base [as_of − 271, as_of − 182]; active months [as_of − 181, as_of]. last_tx_date
    looks at every day given, however old.
    """
    config = config or NightlyConfig()
    activity = DayWindow.ending_at_as_of(config.activity_window_days)
    growth_base = DayWindow.ending_at_as_of(config.activity_window_days, lag=config.growth_lag_days)
    six_months = DayWindow.ending_at_as_of(config.active_months_window_days)
    offset = day_offset(days.tx_date, as_of)
    in_activity = activity.contains(offset)
    initiated = days.initiated_count > 0

    def dates(window: DayWindow) -> tuple[date, date]:
        return as_of + timedelta(days=window.first), as_of + timedelta(days=window.last)

    return {
        "tx_count_90d": days.initiated_count.sum(where=in_activity).fill_null(0),
        "tx_amount_sum": days.initiated_volume.sum(where=in_activity),
        "base_amount_sum": days.initiated_volume.sum(where=growth_base.contains(offset)),
        "mobile_count_90d": days.mobile_count.sum(where=in_activity).fill_null(0),
        "counter_count_90d": days.counter_count.sum(where=in_activity).fill_null(0),
        "last_tx_date": days.tx_date.max(where=initiated),
        "active_months_6m": months_with(days.tx_date, initiated, *dates(six_months)),
        "payroll_months_3m": months_with(days.tx_date, days.payroll_count > 0, *dates(activity)),
        "fee_sum_90d": days.fee_volume.sum(where=in_activity),
    }


def customer_activity_features(
    accounts: ir.Table,
    transactions: ir.Table,
    as_of: date,
    config: NightlyConfig | None = None,
    *,
    customer_summary: ir.Table | None = None,
) -> ir.Table:
    """Per customer with transactions on or before as_of: SPEC 4.2 activity, fees and cost drivers.

    ``customer_summary``: the run's shared ``summarise_days`` table holding at least the
    ``activity_aggregates`` (computed here from ``transactions`` when not given, summing
    ``transaction_rows`` straight into one row per customer).
    """
    config = config or NightlyConfig()
    sums = customer_summary
    if sums is None:
        rows = transaction_rows(accounts, transactions, as_of)
        sums = summarise_days(rows, activity_aggregates(rows, as_of, config))
    tx_amount = _to_float(sums.tx_amount_sum).fill_null(0.0)
    base_amount = _to_float(sums.base_amount_sum).fill_null(0.0)
    count = sums.tx_count_90d.cast("float64")
    no_activity = sums.tx_count_90d == 0
    return sums.select(
        "customer_id",
        tx_count_90d=sums.tx_count_90d.cast("int64"),
        tx_amount_90d=tx_amount,
        tx_volume_growth_6m=_growth(tx_amount, base_amount, config.growth_min_base),
        mobile_share_90d=ibis.ifelse(no_activity, ibis.null("float64"), sums.mobile_count_90d.cast("float64") / count),
        counter_share_90d=ibis.ifelse(
            no_activity, ibis.null("float64"), sums.counter_count_90d.cast("float64") / count
        ),
        last_tx_date=sums.last_tx_date,
        recency_days=ibis.date(as_of).delta(sums.last_tx_date, unit="day").cast("int64"),
        active_months_6m=sums.active_months_6m.cast("int64"),
        payroll_months_3m=sums.payroll_months_3m.cast("int64"),
        fee_amount_90d=_to_float(sums.fee_sum_90d).fill_null(0.0),
        counter_tx_90d=sums.counter_count_90d.cast("int64"),
        other_tx_90d=(sums.tx_count_90d - sums.counter_count_90d).cast("int64"),
    )


def customer_holding_features(accounts: ir.Table, products: ir.Table, as_of: date) -> ir.Table:
    """Per customer with accounts: product_count and open_accounts at as_of.

    Open at as_of: opened_on ≤ as_of and (closed_on null or closed_on > as_of).
    """
    day = ibis.date(as_of)
    held = accounts.join(products.select("product_id", "category"), "product_id", how="inner")
    is_open = (held.opened_on <= day) & (held.closed_on.isnull() | (held.closed_on > day))
    counts = held.group_by("customer_id").aggregate(
        product_count=held.category.nunique(where=is_open),
        open_accounts=held.account_id.count(where=is_open),
    )
    return counts.select(
        "customer_id",
        product_count=counts.product_count.cast("int64"),
        open_accounts=counts.open_accounts.cast("int64"),
    )


def customer_profile_features(customers: ir.Table, as_of: date) -> ir.Table:
    """age and tenure_years for every customer.

    age = whole years at as_of: year difference, minus one when (month, day) of as_of is before
    (month, day) of birth_date — so a 29 February birthday is reached on 1 March in other years.
    tenure_years = round((as_of − onboard_date in days) / 365.25, 1).
    """
    birth = customers.birth_date
    birthday_not_reached = (birth.month() > as_of.month) | ((birth.month() == as_of.month) & (birth.day() > as_of.day))
    age = as_of.year - birth.year() - ibis.ifelse(birthday_not_reached, 1, 0)
    tenure_days = ibis.date(as_of).delta(customers.onboard_date, unit="day")
    return customers.select(
        "customer_id",
        age=age.cast("int64"),
        tenure_years=(tenure_days.cast("float64") / 365.25).round(1),
    )


def customer_features(
    customers: ir.Table,
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    transactions: ir.Table,
    as_of: date,
    config: NightlyConfig | None = None,
    *,
    account_sums: ir.Table | None = None,
    customer_summary: ir.Table | None = None,
) -> ir.Table:
    """One row per customer with exactly FEATURE_COLUMNS.

    revenue_annual = Σ_accounts mean_90d(bal) × margin(category) + Σ|fee amounts in 90 days| × 365/90
    cost_annual = (counter tx × 8 + other tx × 0.5) × 365/90 + 20 × accounts open at as_of
    (customer-initiated transactions in [as_of − 89, as_of]); net_contribution = revenue − cost.
    ``account_sums`` and ``customer_summary`` are the run's shared aggregates (see ``shared.py``);
    without them the features are computed from ``balances`` and ``transactions`` directly.
    """
    config = config or NightlyConfig()
    annualise = DAYS_PER_YEAR / config.activity_window_days
    profile = customer_profile_features(customers, as_of)
    money = customer_balance_features(accounts, products, balances, as_of, config, account_sums=account_sums)
    activity = customer_activity_features(accounts, transactions, as_of, config, customer_summary=customer_summary)
    holdings = customer_holding_features(accounts, products, as_of)

    joined = profile
    for part in (money, activity, holdings):
        joined = left_join_on(joined, part, "customer_id")
    # customers without accounts or transactions have zero balances and counts
    zero_float = ("aum_avg_30d", "aum_avg_90d", "aum_avg_180d", "liability_balance", "tx_amount_90d")
    zero_int = ("tx_count_90d", "active_months_6m", "payroll_months_3m", "product_count")
    joined = joined.mutate(
        **{c: joined[c].fill_null(0.0) for c in zero_float},
        **{c: joined[c].fill_null(0) for c in zero_int},
    )
    revenue = joined.revenue_margin.fill_null(0.0) + joined.fee_amount_90d.fill_null(0.0) * annualise
    cost = (
        joined.counter_tx_90d.fill_null(0).cast("float64") * config.cost_per_counter_tx
        + joined.other_tx_90d.fill_null(0).cast("float64") * config.cost_per_other_tx
    ) * annualise + joined.open_accounts.fill_null(0).cast("float64") * config.cost_per_open_account
    joined = joined.mutate(revenue_annual=revenue, cost_annual=cost)
    joined = joined.mutate(net_contribution=joined.revenue_annual - joined.cost_annual)
    return joined.select(*FEATURE_COLUMNS)
