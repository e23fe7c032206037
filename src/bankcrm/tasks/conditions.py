"""Rule conditions: a SQL boolean expression, parsed and checked with SQLGlot, compiled to Ibis.

Only a small, safe part of SQL passes: known columns of the rule feature table, literals,
comparisons, arithmetic, AND/OR/NOT, IS [NOT] NULL, BETWEEN, IN (…) and a handful of scalar
functions. Anything else — a subquery, an unknown column, a function that reads or writes
data — is refused with the line and column of the offending part. The checked tree is then
turned into an Ibis expression, so the same condition runs on DuckDB and on Spark without
ever pasting user text into engine SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

MAX_CONDITION_LENGTH = 4000


class ConditionError(ValueError):
    """A condition that does not parse or does not pass the checks; says where."""

    def __init__(self, message: str, *, line: int | None = None, col: int | None = None) -> None:
        where = f" (line {line}, column {col})" if line is not None and col is not None else ""
        super().__init__(f"{message}{where}")
        self.line = line
        self.col = col


# SQL function name → (arity range, builder)
def _coalesce(*args: ir.Value) -> ir.Value:
    return ibis.coalesce(*args)


FUNCTIONS: dict[str, tuple[int, int, Callable[..., ir.Value]]] = {
    "ABS": (1, 1, lambda x: x.abs()),
    "COALESCE": (2, 8, _coalesce),
    "LEAST": (2, 8, lambda *xs: ibis.least(*xs)),
    "GREATEST": (2, 8, lambda *xs: ibis.greatest(*xs)),
    "ROUND": (1, 2, lambda x, d=None: x.round(d if d is None else int(d.op().value))),
    "LOWER": (1, 1, lambda x: x.lower()),
    "UPPER": (1, 1, lambda x: x.upper()),
}

_BINARY: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.And: lambda a, b: a & b,
    exp.Or: lambda a, b: a | b,
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: lambda a, b: a / b,
}


@dataclass(frozen=True)
class CheckedCondition:
    """A condition that passed the checks: its text, tree and the columns it reads."""

    text: str
    tree: exp.Expression
    columns: tuple[str, ...]

    def to_ibis(self, table: ir.Table) -> ir.BooleanValue:
        """The condition over ``table`` (null counts as false)."""
        value = _build(self.tree, table)
        if not isinstance(value, ir.BooleanValue):
            raise ConditionError("the condition must be true or false, not a number or text")
        return value.fill_null(False)


def _where(node: exp.Expression) -> tuple[int | None, int | None]:
    """Line and column of a node, from the first identifier or literal under it that knows its place."""
    for candidate in (node, *node.walk()):
        inner = candidate.args.get("this") if isinstance(candidate, exp.Expression) else None
        for meta in (getattr(candidate, "meta", None) or {}, getattr(inner, "meta", None) or {}):
            if "line" in meta:
                # SQLGlot records the column where the token ends; report where it starts
                return meta["line"], meta["col"] - (meta.get("end", 0) - meta.get("start", 0))
    return None, None


def check_condition(text: str, columns: Mapping[str, str]) -> CheckedCondition:
    """Parse ``text`` and check it against the known ``columns`` (name → type); raise ConditionError."""
    if not text or not text.strip():
        raise ConditionError("the condition is empty")
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"the condition is longer than {MAX_CONDITION_LENGTH} characters")
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        highlight = str(first.get("highlight") or "")
        col = first.get("col")
        raise ConditionError(
            f"not a valid SQL expression: {first.get('description', exc)} near {highlight!r}",
            line=first.get("line"),
            col=None if col is None else max(1, col - len(highlight) + 1),
        ) from exc
    except TokenError as exc:
        raise ConditionError(f"not a valid SQL expression: {exc}") from exc
    if len(statements) != 1 or statements[0] is None:
        raise ConditionError("write one expression, without ';'")
    tree = statements[0]
    used: list[str] = []
    for node in tree.walk():
        _check_node(node, columns, used)
    return CheckedCondition(text=text, tree=tree, columns=tuple(dict.fromkeys(used)))


_ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    *_BINARY,
    exp.Not,
    exp.Neg,
    exp.Paren,
    exp.Is,
    exp.Null,
    exp.Boolean,
    exp.Literal,
    exp.Column,
    exp.Identifier,
    exp.Between,
    exp.In,
    exp.Tuple,
    exp.Anonymous,
    exp.Abs,
    exp.Coalesce,
    exp.Least,
    exp.Greatest,
    exp.Round,
    exp.Lower,
    exp.Upper,
)


def _check_node(node: exp.Expression, columns: Mapping[str, str], used: list[str]) -> None:
    line, col = _where(node)
    if isinstance(node, exp.Column):
        if node.table:
            raise ConditionError(f"write the column without a table name: {node.sql()}", line=line, col=col)
        name = node.name
        if name not in columns:
            raise ConditionError(f"unknown column {name!r}", line=line, col=col)
        used.append(name)
        return
    if isinstance(node, exp.Anonymous):
        raise ConditionError(f"function {node.name.upper()}() is not allowed", line=line, col=col)
    if isinstance(node, exp.Func) and not isinstance(node, _ALLOWED_NODES):
        raise ConditionError(f"function {node.sql_name()}() is not allowed", line=line, col=col)
    if isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest")):
        raise ConditionError("IN takes a list of values, not a query", line=line, col=col)
    if not isinstance(node, _ALLOWED_NODES):
        kind = type(node).__name__.upper()
        raise ConditionError(f"{kind} is not allowed in a rule condition", line=line, col=col)


def _literal(node: exp.Literal) -> ir.Value:
    if node.is_string:
        return ibis.literal(node.this, type="string")
    text = node.this
    if any(ch in text for ch in ".eE"):
        return ibis.literal(float(text), type="float64")
    return ibis.literal(int(text), type="int64")


def _build(node: exp.Expression, table: ir.Table) -> Any:
    try:
        return _build_node(node, table)
    except ConditionError:
        raise
    except Exception as exc:  # Ibis refuses e.g. comparing text with a number
        line, col = _where(node)
        raise ConditionError(f"cannot evaluate {node.sql()!r}: {exc}", line=line, col=col) from exc


def _build_node(node: exp.Expression, table: ir.Table) -> Any:
    if isinstance(node, exp.Paren):
        return _build(node.this, table)
    if isinstance(node, exp.Column):
        return table[node.name]
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, exp.Boolean):
        return ibis.literal(bool(node.this), type="boolean")
    if isinstance(node, exp.Null):
        return ibis.null()
    if isinstance(node, exp.Not):
        inner = node.this
        if isinstance(inner, exp.Is):  # NOT (x IS NULL) → x IS NOT NULL
            return _build(inner.this, table).notnull()
        return ~_build(inner, table)
    if isinstance(node, exp.Neg):
        return -_build(node.this, table)
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            line, col = _where(node)
            raise ConditionError("IS is only allowed with NULL", line=line, col=col)
        return _build(node.this, table).isnull()
    if isinstance(node, exp.Between):
        value = _build(node.this, table)
        return value.between(_build(node.args["low"], table), _build(node.args["high"], table))
    if isinstance(node, exp.In):
        value = _build(node.this, table)
        return value.isin([_build(e, table) for e in node.expressions])
    builder = _BINARY.get(type(node))
    if builder is not None:
        return builder(_build(node.this, table), _build(node.expression, table))
    if isinstance(node, exp.Func):
        name = node.sql_name().upper()
        spec = FUNCTIONS.get(name)
        if spec is None:
            line, col = _where(node)
            raise ConditionError(f"function {name}() is not allowed", line=line, col=col)
        low, high, fn = spec
        args = [a for a in node.args.values() if isinstance(a, exp.Expression)]
        args += [e for e in node.expressions if isinstance(e, exp.Expression) and e not in args]
        if not low <= len(args) <= high:
            line, col = _where(node)
            raise ConditionError(f"{name}() takes {low}–{high} arguments, got {len(args)}", line=line, col=col)
        return fn(*(_build(a, table) for a in args))
    line, col = _where(node)
    raise ConditionError(f"{type(node).__name__.upper()} is not allowed in a rule condition", line=line, col=col)
