"""Contact cadence per tier (SPEC 5.1): coverage and overdue contacts per RM, team and branch.

A contact plan is a rule of category ``cadence``: the tiers it covers (its ``tier_actions``
keys), a period (``every_days``) and the interaction purposes that count as the contact. A
customer is covered when, for every plan of their current tier, the latest counted contact —
a logged interaction with one of the plan's purposes, or the plan's own task completed — is
within the plan's period. Coverage = covered customers / customers with a plan.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bankcrm.customers.models import Customer
from bankcrm.scores import repository as scores_repo
from bankcrm.scores.models import CustomerScore
from bankcrm.security.permissions import CustomerScope, Permission, Principal, customer_scope_filter, require
from bankcrm.staff.models import Staff
from bankcrm.tasks import repository as repo
from bankcrm.tasks.models import Rule

GROUPINGS = ("rm", "team", "branch")
TIER_ORDER = {"vip": 0, "potential": 1, "ordinary": 2}


@dataclass
class OverdueContact:
    customer_id: str
    rm_id: str | None
    tier: str
    plan: str
    every_days: int
    last_contact: datetime | None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        since = None if self.last_contact is None else (now - self.last_contact).days
        return {
            "customer_id": self.customer_id,
            "rm_id": self.rm_id,
            "tier": self.tier,
            "plan": self.plan,
            "every_days": self.every_days,
            "last_contact": None if self.last_contact is None else self.last_contact.isoformat(),
            "days_since_contact": since,
        }


@dataclass
class CoverageRow:
    key: str | None
    customers: int = 0
    covered: int = 0
    by_tier: dict[str, list[int]] = field(default_factory=dict)  # tier → [customers, covered]

    @property
    def coverage(self) -> float | None:
        return None if self.customers == 0 else self.covered / self.customers

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "customers": self.customers,
            "covered": self.covered,
            "overdue": self.customers - self.covered,
            "coverage": self.coverage,
            "by_tier": {
                t: {"customers": n, "covered": c, "coverage": c / n if n else None}
                for t, (n, c) in sorted(self.by_tier.items(), key=lambda kv: TIER_ORDER.get(kv[0], 9))
            },
        }


@dataclass
class CadenceReport:
    as_of: datetime
    run_id: int | None
    rows: list[CoverageRow]
    overdue: list[OverdueContact]

    def summary(self) -> dict[str, Any] | None:
        """All rows together: customers, covered, coverage and per tier (None before any run)."""
        if not self.rows:
            return None
        total = CoverageRow(None)
        for row in self.rows:
            total.customers += row.customers
            total.covered += row.covered
            for tier, (n, c) in row.by_tier.items():
                counts = total.by_tier.setdefault(tier, [0, 0])
                counts[0] += n
                counts[1] += c
        return {**total.to_dict(), "overdue_contacts": len(self.overdue)}


def _plans(session: Session) -> list[Rule]:
    return [r for r in repo.list_rules(session) if r.category == "cadence" and r.enabled and r.every_days]


def _tiers_of(plan: Rule) -> set[str]:
    return set(json.loads(plan.tier_actions_json or "{}")) - {"*"}


def cadence_report(
    session: Session,
    *,
    principal: Principal | None = None,
    by: str = "rm",
    now: datetime | None = None,
    rm_id: str | None = None,
) -> CadenceReport:
    """Coverage grouped by RM, team or branch, and the overdue contacts, for the customers in scope."""
    if by not in GROUPINGS:
        raise ValueError(f"by: expected one of {', '.join(GROUPINGS)}")
    if principal is not None:
        # managers' figures: RMs see their own, team leads the team, branch managers the branch
        require(principal, Permission.SCORECARD_READ)
    now = now or datetime.now(UTC)
    run_id = scores_repo.current_run_id(session)
    plans = _plans(session)
    if run_id is None or not plans:
        return CadenceReport(as_of=now, run_id=run_id, rows=[], overdue=[])
    query = (
        select(Customer.customer_id, Customer.rm_id, Customer.branch_id, CustomerScore.tier)
        .join(CustomerScore, CustomerScore.customer_id == Customer.customer_id)
        .where(CustomerScore.run_id == run_id)
    )
    if principal is not None and principal.customer_scope not in (CustomerScope.NONE, CustomerScope.ALL_MASKED):
        query = query.where(customer_scope_filter(principal))
    if rm_id is not None:
        query = query.where(Customer.rm_id == rm_id)
    customers = session.execute(query).all()
    longest = max(p.every_days or 0 for p in plans)
    last = repo.last_contacts(session.connection(), plans, since=now - timedelta(days=longest))
    teams = dict(session.execute(select(Staff.staff_id, Staff.team_id)).all()) if by == "team" else {}
    plans_by_tier: dict[str, list[Rule]] = defaultdict(list)
    for plan in plans:
        for tier in _tiers_of(plan):
            plans_by_tier[tier].append(plan)

    rows: dict[str | None, CoverageRow] = {}
    overdue: list[OverdueContact] = []
    for customer_id, rm, branch_id, customer_tier in customers:
        tier = customer_tier or ""
        applicable = plans_by_tier.get(tier, [])
        if not applicable:
            continue
        team = teams.get(rm) if rm else None
        key = rm if by == "rm" else (team if by == "team" else branch_id)
        row = rows.setdefault(key, CoverageRow(key))
        missing = []
        for plan in applicable:
            seen = last.get(plan.rule_id, {}).get(customer_id)
            if seen is None or seen < now - timedelta(days=plan.every_days or 0):
                missing.append(OverdueContact(customer_id, rm, tier, plan.rule_id, plan.every_days or 0, seen))
        row.customers += 1
        counts = row.by_tier.setdefault(tier, [0, 0])
        counts[0] += 1
        if not missing:
            row.covered += 1
            counts[1] += 1
        overdue.extend(missing)
    ordered = sorted(rows.values(), key=lambda r: (r.key is None, r.key or ""))
    overdue.sort(key=lambda o: (o.last_contact is not None, o.last_contact or now, o.customer_id, o.plan))
    return CadenceReport(as_of=now, run_id=run_id, rows=ordered, overdue=overdue)
