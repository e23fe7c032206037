"""Cross-check: the nightly run's rule hits against SPEC 5.3/5.4 read literally from the bundle's files.

A generated bank (with customers planted for every rule) is ingested and run through the
nightly job; the run's exported items must be exactly the (customer, rule) pairs the plain
Python reading below finds in the bundle's own files, rule by rule. The reference knows
nothing of the lake or the engine: it converts timestamps to Asia/Shanghai dates itself,
looks balances up row by row (bal(a, d) = the latest row dated ≤ d, 0 from closed_on
onwards) and compares money in whole cents or Decimal, so threshold cases are exact.

as_of is two days before the Mid-Autumn Festival of 2026, so the festival greeting fires too.
The tier half of attrition_risk needs an earlier run and is covered by the hand-made tests.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bankcrm.analytics.nightly import run_nightly
from bankcrm.analytics.rule_features import DEFAULT_FESTIVALS
from bankcrm.config import Settings
from bankcrm.db.engine import make_engine, session_factory, session_scope
from bankcrm.db.migrate import upgrade
from bankcrm.ingest.service import ingest_bundle
from bankcrm.synth.bundle import generate_bundle
from bankcrm.tasks.defaults import DEFAULT_RULE_IDS
from bankcrm.tasks.service import export_rows

AS_OF = date(2026, 9, 23)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ASSETS = {"deposit_current", "deposit_time", "wealth", "fund", "insurance", "precious_metal", "bond"}
DEBTS = {"loan_mortgage", "loan_consumer", "loan_business", "credit_card"}


def _rows(bundle: Path, name: str, columns: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(bundle / f"{name}.parquet", columns=columns).to_pylist()
    return rows


class Reference:
    """SPEC 5.3/5.4 at as_of, one rule at a time, over plain rows of the bundle."""

    def __init__(self, bundle: Path, as_of: date) -> None:
        self.a = as_of
        self.customers = _rows(
            bundle, "customers", ["customer_id", "birth_date", "occupation", "onboard_date", "risk_assessed_on"]
        )
        products = {p["product_id"]: p for p in _rows(bundle, "products", ["product_id", "category", "risk_level"])}
        self.accounts = _rows(
            bundle,
            "accounts",
            [
                *("account_id", "customer_id", "product_id", "opened_on", "maturity_on", "closed_on"),
                *("next_due_on", "days_past_due"),
            ],
        )
        for acc in self.accounts:
            acc["category"] = products[acc["product_id"]]["category"]
            acc["risk_level"] = products[acc["product_id"]]["risk_level"]
        self.account = {acc["account_id"]: acc for acc in self.accounts}
        # balances in whole cents, so every comparison with a threshold is exact
        balances = pq.read_table(bundle / "balances.parquet")
        cents = pc.cast(pc.multiply(balances["balance"], 100), pa.int64()).to_pylist()
        self.rows: dict[str, list[tuple[date, int]]] = defaultdict(list)
        for account_id, day, amount in zip(
            balances["account_id"].to_pylist(), balances["date"].to_pylist(), cents, strict=True
        ):
            if day <= as_of:
                self.rows[account_id].append((day, amount))
        for rows in self.rows.values():
            rows.sort()
        # transactions: every row gets its Shanghai date; rows a rule reads one by one are kept as dicts
        tx = pq.read_table(bundle / "transactions.parquet").to_pandas()
        tx["date"] = tx["ts"].dt.tz_convert("Asia/Shanghai").dt.date
        tx["customer_id"] = tx["account_id"].map({acc["account_id"]: acc["customer_id"] for acc in self.accounts})
        tx = tx[tx["date"] <= as_of]
        initiated = tx[~tx["category"].isin(["interest", "fee"]) & (tx["channel"] != "auto")]
        self.last_initiated: dict[str, date] = initiated.groupby("customer_id")["date"].max().to_dict()
        payees_today = set(tx.loc[(tx["category"] == "transfer_out") & (tx["date"] == as_of), "counterparty"])
        read_one_by_one = (
            tx["category"].isin(["investment", "redemption", "transfer_out", "payroll"])
            | ((tx["category"] == "purchase") & (tx["merchant_group"] == "baby"))
            | tx["counterparty"].isin(payees_today - {None})
        )
        kept = tx[read_one_by_one]
        self.tx: list[dict[str, Any]] = [
            dict(zip(kept.columns, row, strict=True))
            for row in zip(*(kept[c].tolist() for c in kept.columns), strict=True)
        ]
        events = pq.read_table(bundle / "behavior_events.parquet")
        self.events = events.filter(pc.equal(events["event"], "view_mortgage_rate")).to_pylist()
        for e in self.events:
            e["date"] = e["ts"].astimezone(SHANGHAI).date()

    def day(self, offset: int) -> date:
        return self.a + timedelta(days=offset)

    def bal(self, acc: dict[str, Any], d: date) -> int:
        """bal(a, d) in cents."""
        if acc["closed_on"] is not None and acc["closed_on"] <= d:
            return 0
        rows = self.rows.get(acc["account_id"], [])
        i = bisect.bisect_right(rows, (d, float("inf")))
        return rows[i - 1][1] if i else 0

    def is_open(self, acc: dict[str, Any]) -> bool:
        return acc["opened_on"] <= self.a and (acc["closed_on"] is None or acc["closed_on"] > self.a)

    def open_of(self, categories: set[str]) -> Iterator[dict[str, Any]]:
        return (acc for acc in self.accounts if acc["category"] in categories and self.is_open(acc))

    def complete_months(self) -> set[tuple[int, int]]:
        months, y, m = set(), self.a.year, self.a.month
        for _ in range(3):
            y, m = (y - 1, 12) if m == 1 else (y, m - 1)
            months.add((y, m))
        return months

    def age(self, birth: date) -> int:
        return self.a.year - birth.year - ((self.a.month, self.a.day) < (birth.month, birth.day))

    # --- 5.3 ---

    def birthday(self) -> set[str]:
        hit = set()
        for c in self.customers:
            b = c["birth_date"]
            for year in (self.a.year, self.a.year + 1):
                try:
                    day = b.replace(year=year)
                except ValueError:  # 29 February in a common year: 1 March, as whole years of age count it
                    day = date(year, 3, 1)
                if self.a < day <= self.day(7):
                    hit.add(c["customer_id"])
        return hit

    def festival(self) -> set[str]:
        days = [date.fromisoformat(d) for ds in DEFAULT_FESTIVALS.values() for d in ds]
        near = any(self.a < d <= self.day(3) for d in days)
        return {c["customer_id"] for c in self.customers} if near else set()

    def maturity(self) -> set[str]:
        return {
            acc["customer_id"]
            for acc in self.open_of({"deposit_time", "wealth"})
            if acc["maturity_on"] is not None and self.a < acc["maturity_on"] <= self.day(15)
        }

    def repayment_due(self) -> set[str]:
        return {
            acc["customer_id"]
            for acc in self.open_of(DEBTS)
            if acc["next_due_on"] is not None and self.a < acc["next_due_on"] <= self.day(3)
        }

    def overdue(self) -> set[str]:
        return {acc["customer_id"] for acc in self.open_of(DEBTS) if (acc["days_past_due"] or 0) > 0}

    def large_outflow(self) -> set[str]:
        seen = {
            (t["customer_id"], t["counterparty"])
            for t in self.tx
            if t["counterparty"] is not None and self.day(-180) <= t["date"] <= self.day(-1)
        }
        sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for t in self.tx:
            if t["category"] == "transfer_out" and t["date"] == self.a and t["counterparty"] is not None:
                sums[(t["customer_id"], t["counterparty"])] += abs(t["amount"])
        return {c for (c, payee), total in sums.items() if total >= 500_000 and (c, payee) not in seen}

    def risky_concentration(self) -> set[str]:
        by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for t in self.tx:
            if t["category"] == "investment":
                by_customer[t["customer_id"]].append(t)
        hit = set()
        for c, txs in by_customer.items():
            last3 = sorted(txs, key=lambda t: (t["ts"], t["tx_id"]))[-3:]
            if (
                len(last3) == 3
                and all(self.account[t["account_id"]]["risk_level"] in ("R4", "R5") for t in last3)
                and last3[-1]["date"] >= self.day(-30)
            ):
                hit.add(c)
        return hit

    def assessment_expiry(self) -> set[str]:
        assessed = {c["customer_id"]: c["risk_assessed_on"] for c in self.customers}
        return {
            acc["customer_id"]
            for acc in self.open_of({"wealth", "fund", "precious_metal", "bond"})
            if assessed[acc["customer_id"]] is None or assessed[acc["customer_id"]] < self.day(-365)
        }

    def nav_move(self) -> set[str]:
        flows = {
            t["account_id"]
            for t in self.tx
            if t["category"] in ("investment", "redemption") and self.day(-30) <= t["date"] <= self.a
        }
        hit = set()
        for acc in self.open_of({"fund"}):
            was, now = self.bal(acc, self.day(-30)), self.bal(acc, self.a)
            if acc["account_id"] in flows or was < 1000_00:
                continue
            # now / was − 1 ≥ +0.15 or ≤ −0.10, multiplied out
            if 100 * now >= 115 * was or 100 * now <= 90 * was:
                hit.add(acc["customer_id"])
        return hit

    def _aum_sum_30d(self, last: int) -> dict[str, int]:
        """Σ of aum(c, d) in cents over the 30 days ending as_of + last (30 × aum_avg_30d, exact)."""
        total: dict[str, int] = defaultdict(int)
        for acc in self.accounts:
            if acc["category"] in ASSETS:
                total[acc["customer_id"]] += sum(self.bal(acc, self.day(d)) for d in range(last - 29, last + 1))
        return total

    def attrition_risk(self) -> set[str]:
        now, base = self._aum_sum_30d(0), self._aum_sum_30d(-90)
        return {c for c, b in base.items() if b >= 30 * 10_000_00 and 2 * now[c] <= b}

    def dormancy(self) -> set[str]:
        last = self.last_initiated  # latest customer-initiated transaction (not interest/fee, not auto)
        return {
            c["customer_id"]
            for c in self.customers
            if (self.a - c["onboard_date"]).days > 180
            and (c["customer_id"] not in last or (self.a - last[c["customer_id"]]).days >= 180)
        }

    # --- 5.4 ---

    def need_mortgage(self) -> set[str]:
        views: dict[str, int] = defaultdict(int)
        for e in self.events:
            if e["event"] == "view_mortgage_rate" and self.day(-29) <= e["date"] <= self.a:
                views[e["customer_id"]] += 1
        deposits: dict[str, int] = defaultdict(int)
        for acc in self.accounts:
            if acc["category"] in ("deposit_current", "deposit_time"):
                deposits[acc["customer_id"]] += self.bal(acc, self.a)
        return {c for c, n in views.items() if n >= 3 and deposits[c] >= 200_000_00}

    def _months_with(self, wanted: Any) -> dict[str, set[tuple[int, int]]]:
        complete = self.complete_months()
        months: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for t in self.tx:
            if wanted(t) and (t["date"].year, t["date"].month) in complete:
                months[t["customer_id"]].add((t["date"].year, t["date"].month))
        return months

    def need_education(self) -> set[str]:
        months = self._months_with(lambda t: t["category"] == "purchase" and t["merchant_group"] == "baby")
        return {c for c, m in months.items() if len(m) == 3}

    def need_salary_plan(self) -> set[str]:
        months = self._months_with(lambda t: t["category"] == "payroll" and t["amount"] > 0)
        with_fund = {acc["customer_id"] for acc in self.open_of({"fund"})}
        return {c for c, m in months.items() if len(m) == 3 and c not in with_fund}

    def need_reinvest(self) -> set[str]:
        return {
            acc["customer_id"]
            for acc in self.open_of({"deposit_time"})
            if acc["maturity_on"] is not None
            and self.a < acc["maturity_on"] <= self.day(15)
            and self.bal(acc, self.a) >= 50_000_00
        }

    def need_retirement(self) -> set[str]:
        insured = {acc["customer_id"] for acc in self.open_of({"insurance"})}
        return {
            c["customer_id"]
            for c in self.customers
            if 50 <= self.age(c["birth_date"]) <= 60 and c["customer_id"] not in insured
        }

    def need_private_corporate(self) -> set[str]:
        executives = {c["customer_id"] for c in self.customers if c["occupation"] == "executive"}
        return {acc["customer_id"] for acc in self.open_of({"loan_business"}) if acc["customer_id"] in executives}

    def hits(self) -> dict[str, set[str]]:
        return {rule_id: getattr(self, rule_id)() for rule_id in DEFAULT_RULE_IDS}


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(nightly, reference): rule_id → customers, for one generated bank."""
    base = tmp_path_factory.mktemp("rules_reference")
    bundle = base / "bundle"
    generate_bundle(bundle, customers=1500, months=8, seed=23, as_of=AS_OF, fmt="parquet")
    settings = Settings(home=base / "home")
    engine = make_engine(settings)
    try:
        upgrade(engine)
        report = ingest_bundle(settings, engine, bundle)
        assert report.ok
        assert sum(f.rejected for f in report.files.values()) == 0  # the reference reads every row
        result = run_nightly(settings, engine, AS_OF)
        with session_scope(session_factory(engine)) as session:
            items = export_rows(session, result.run_id)
    finally:
        engine.dispose()
    nightly: dict[str, set[str]] = {rule_id: set() for rule_id in DEFAULT_RULE_IDS}
    for item in items:
        nightly[item["rule_id"]].add(item["customer_id"])
    return nightly, Reference(bundle, AS_OF).hits()


@pytest.mark.parametrize("rule_id", DEFAULT_RULE_IDS)
def test_nightly_items_equal_the_literal_reading_of_the_spec(
    compared: tuple[dict[str, set[str]], dict[str, set[str]]], rule_id: str
) -> None:
    nightly, reference = compared
    assert reference[rule_id], f"{rule_id} fires for nobody in the generated bank"
    missing, extra = reference[rule_id] - nightly[rule_id], nightly[rule_id] - reference[rule_id]
    assert not missing and not extra, f"{rule_id}: missing {sorted(missing)[:10]}, extra {sorted(extra)[:10]}"
