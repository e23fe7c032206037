"""A tiny hand-made bank for the rule tests, evaluated through the nightly run's rule path on DuckDB.

Rows are built with the lake's column types; a transaction or event given a calendar day is
placed at noon Asia/Shanghai, one given an aware datetime keeps it (its local date is the
Shanghai date, as ingest writes it). The path is the nightly one: ``customer_features`` →
tiers with hysteresis → ``customer_rule_features`` → ``rules.evaluate`` with the compiled
default rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend
from nightly_tables import lake_table, money

from bankcrm.analytics import rules
from bankcrm.analytics.features import customer_features, left_join_on
from bankcrm.analytics.rule_features import customer_rule_features
from bankcrm.analytics.tiers import apply_hysteresis, with_tier_raw
from bankcrm.lake import TIER_HISTORY_SCHEMA
from bankcrm.reference import PRODUCT_CATEGORIES
from bankcrm.tasks.defaults import DEFAULT_RULE_IDS, DEFAULT_RULES

SHANGHAI = ZoneInfo("Asia/Shanghai")
COMPILED = [rules.compile_rule(r.rule_id, r.condition) for r in DEFAULT_RULES]
_CON = ibis.duckdb.connect(threads=1)

# product_id → (category, risk level); one plain product per category plus investments of known risk
_RISK = {"wealth": "R2", "fund": "R3", "bond": "R2", "precious_metal": "R3", "insurance": "R2"}
PRODUCTS: dict[str, tuple[str, str | None]] = {
    **{c: (c, _RISK.get(c)) for c in PRODUCT_CATEGORIES},
    "fund_r4": ("fund", "R4"),
    "fund_r5": ("fund", "R5"),
    "wealth_r4": ("wealth", "R4"),
    "wealth_r5": ("wealth", "R5"),
}


def local_noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=SHANGHAI)


@dataclass
class Bank:
    """Rows of one small bank, added customer by customer."""

    as_of: date
    customers: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    balances: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def ago(self, days: int) -> date:
        return self.as_of - timedelta(days=days)

    def ahead(self, days: int) -> date:
        return self.as_of + timedelta(days=days)

    @property
    def last_account(self) -> str:
        return str(self.accounts[-1]["account_id"])

    @property
    def ids(self) -> list[str]:
        return [c["customer_id"] for c in self.customers]

    def customer(
        self,
        customer_id: str,
        *,
        birth: date = date(1986, 5, 10),
        onboard: date = date(2020, 1, 1),
        occupation: str = "employee",
        assessed: date | str | None = "recent",
    ) -> str:
        self.customers.append(
            {
                "customer_id": customer_id,
                "gender": "F",
                "birth_date": birth,
                "onboard_date": onboard,
                "occupation": occupation,
                "branch_id": "B1",
                "rm_id": "S1",
                "marketing_consent": True,
                "risk_level": "C3",
                "risk_assessed_on": self.ago(100) if assessed == "recent" else assessed,
            }
        )
        return customer_id

    def account(
        self,
        customer_id: str,
        product: str,
        *,
        opened: date = date(2020, 1, 1),
        closed: date | None = None,
        maturity: date | None = None,
        next_due: date | None = None,
        days_past_due: int | None = None,
        balance: str | int | None = None,
    ) -> str:
        """An account; ``balance`` adds one row on its opening day (it then holds until a later row)."""
        account_id = f"{customer_id}/{len(self.accounts)}"
        self.accounts.append(
            {
                "account_id": account_id,
                "customer_id": customer_id,
                "product_id": product,
                "opened_on": opened,
                "closed_on": closed,
                "maturity_on": maturity,
                "next_due_on": next_due,
                "days_past_due": days_past_due,
            }
        )
        if balance is not None:
            self.balance(account_id, opened, balance)
        return account_id

    def balance(self, account_id: str, day: date, amount: str | int) -> None:
        self.balances.append({"account_id": account_id, "date": day, "balance": money(amount)})

    def tx(
        self,
        account_id: str,
        when: date | datetime,
        amount: str | int,
        category: str,
        *,
        channel: str = "mobile",
        merchant_group: str | None = None,
        counterparty: str | None = None,
        tx_id: str | None = None,
    ) -> None:
        ts = when if isinstance(when, datetime) else local_noon(when)
        self.transactions.append(
            {
                "tx_id": tx_id or f"T{len(self.transactions):05d}",
                "account_id": account_id,
                "ts": ts,
                "tx_date": ts.astimezone(SHANGHAI).date(),
                "amount": money(amount),
                "channel": channel,
                "category": category,
                "merchant_group": merchant_group,
                "counterparty": counterparty,
            }
        )

    def event(self, customer_id: str, when: date | datetime, event: str) -> None:
        ts = when if isinstance(when, datetime) else local_noon(when)
        self.events.append(
            {"customer_id": customer_id, "ts": ts, "event_date": ts.astimezone(SHANGHAI).date(), "event": event}
        )

    def earlier_run(self, customer_id: str, as_of: date, tier_raw: str, tier: str) -> None:
        self.history.append({"customer_id": customer_id, "as_of": as_of, "tier_raw": tier_raw, "tier": tier})

    def hits(self) -> dict[str, set[str]]:
        """rule_id → customers the default rules hit at as_of."""
        products = [{"product_id": p, "name": p, "category": c, "risk_level": r} for p, (c, r) in PRODUCTS.items()]
        history = ibis.memtable(pa.Table.from_pylist(self.history, schema=TIER_HISTORY_SCHEMA))
        return rule_hits(
            _CON,
            lake_table("customers", self.customers),
            lake_table("accounts", self.accounts),
            lake_table("products", products),
            lake_table("balances", self.balances),
            lake_table("transactions", self.transactions),
            lake_table("behavior_events", self.events),
            history,
            self.as_of,
        )


def rule_hits(
    con: BaseBackend,
    customers: ir.Table,
    accounts: ir.Table,
    products: ir.Table,
    balances: ir.Table,
    transactions: ir.Table,
    behavior_events: ir.Table,
    tier_history: ir.Table,
    as_of: date,
) -> dict[str, set[str]]:
    """The nightly run's rule step on these tables: rule_id → customers hit."""
    features = customer_features(customers, accounts, products, balances, transactions, as_of)
    raw = with_tier_raw(features).select("customer_id", "tier_raw")
    tiers = apply_hysteresis(raw, tier_history, as_of).select("customer_id", "tier")
    scored = left_join_on(features, tiers, "customer_id")
    facts = customer_rule_features(
        customers, accounts, products, balances, transactions, behavior_events, tier_history, as_of
    )
    table = rules.rule_table(scored, facts)
    rows = con.to_pyarrow(rules.evaluate(table, COMPILED)).to_pylist()
    return {rule: {r["customer_id"] for r in rows if r[rules.hit_column(rule)]} for rule in DEFAULT_RULE_IDS}


def assert_rule(hits: dict[str, set[str]], ids: list[str], rule_id: str) -> None:
    """Among the customers named ``<rule_id>:…``, exactly the ``<rule_id>:in:…`` ones are hit by the rule."""
    mine = {c for c in ids if c.split(":")[0] == rule_id}
    inside = {c for c in mine if c.split(":")[1] == "in"}
    assert inside and mine - inside, f"{rule_id}: needs customers on both sides of the trigger"
    got = hits[rule_id] & mine
    assert got == inside, f"{rule_id}: missed {sorted(inside - got)}, wrongly hit {sorted(got - inside)}"
