"""Evaluating the maintenance rules inside the engine: one boolean column per rule, one pass.

The rule table is the run's scores (features and labels) joined with the trigger facts of
``rule_features``. Each checked condition becomes an Ibis boolean; the engine returns only the
customers some rule hit, with the columns the conditions read (shown to the RM as the facts
behind the item).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from bankcrm.analytics.features import left_join_on
from bankcrm.analytics.rule_features import RULE_FEATURE_COLUMNS
from bankcrm.scores.columns import FEATURE_COLUMNS
from bankcrm.tasks.conditions import CheckedCondition, check_condition

# published columns a rule may read (lifetime values are computed after the engine step)
SCORE_RULE_COLUMNS: dict[str, str] = {
    **{c: "float64" for c in FEATURE_COLUMNS if c != "customer_id"},
    "tx_count_90d": "int64",
    "last_tx_date": "date",
    "recency_days": "int64",
    "active_months_6m": "int64",
    "payroll_months_3m": "int64",
    "product_count": "int64",
    "age": "int64",
    "value_class": "string",
    "tier_raw": "string",
    "tier": "string",
    "segment": "string",
    "current_value": "float64",
    "potential_value": "float64",
    "value_index": "float64",
}

# every column a condition may name, with its type
RULE_COLUMNS: dict[str, str] = {
    **SCORE_RULE_COLUMNS,
    **{name: kind for name, (kind, _) in RULE_FEATURE_COLUMNS.items()},
}

# carried along with every hit: who the item goes to and which tier's action applies
CARRIED = ("customer_id", "branch_id", "rm_id", "tier", "marketing_consent")


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    condition: CheckedCondition


_PROTOTYPE = ibis.table(RULE_COLUMNS, name="rule_table")


def compile_rule(rule_id: str, condition: str) -> CompiledRule:
    """Check a rule's condition: known columns, allowed SQL, types that fit, a true/false result.

    Raises ConditionError pointing at the offending part.
    """
    checked = check_condition(condition, RULE_COLUMNS)
    checked.to_ibis(_PROTOTYPE)  # builds the expression once, so type errors surface here
    return CompiledRule(rule_id, checked)


def hit_column(rule_id: str) -> str:
    return f"hit__{rule_id}"


def rule_table(scored: ir.Table, rule_features: ir.Table) -> ir.Table:
    """Scores and trigger facts side by side, one row per customer."""
    keep = [c for c in scored.columns if c in SCORE_RULE_COLUMNS or c == "customer_id"]
    return left_join_on(scored.select(*keep), rule_features, "customer_id")


def evaluate(table: ir.Table, rules: Sequence[CompiledRule]) -> ir.Table:
    """Customers hit by at least one rule: the carried columns, a boolean per rule and the facts read."""
    hits = {hit_column(r.rule_id): r.condition.to_ibis(table) for r in rules}
    facts = sorted({c for r in rules for c in r.condition.columns} - set(CARRIED))
    out = table.select(*CARRIED, *facts, **hits)
    if not hits:
        return out.limit(0)
    any_hit = None
    for name in hits:
        any_hit = out[name] if any_hit is None else any_hit | out[name]
    return out.filter(any_hit)
