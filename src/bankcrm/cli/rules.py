"""bankcrm rules …: list, check, add, edit, enable/disable and preview maintenance rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bankcrm.audit.service import Actor
from bankcrm.cli.common import DatabaseUrlOption, HomeOption, build_settings, console, fail, open_engine
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.security.permissions import NotFound
from bankcrm.tasks import service
from bankcrm.tasks.conditions import ConditionError

rules_app = typer.Typer(help="Maintenance rules (SPEC 5.3 events, 5.4 needs, and your own).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]


def _session(ctx: typer.Context, home: Path | None, database_url: str | None) -> Any:
    settings = build_settings(ctx, home, database_url)
    return settings, open_engine(settings)


@rules_app.command("list")
def list_cmd(
    ctx: typer.Context, json_output: JsonOption = False, home: HomeOption = None, database_url: DatabaseUrlOption = None
) -> None:
    """Every rule with its condition, action and whether it is enabled."""
    _, engine = _session(ctx, home, database_url)
    with session_scope(session_factory(engine)) as session:
        rules = [service.rule_definition(r) for r in service.list_rules(session)]
    if json_output:
        typer.echo(json.dumps(rules, ensure_ascii=False))
        return
    table = Table(title="maintenance rules")
    for column in ("rule", "v", "on", "action", "priority", "condition"):
        table.add_column(column)
    for r in rules:
        table.add_row(
            r["rule_id"], str(r["version"]), "yes" if r["enabled"] else "no", r["action"], r["priority"], r["condition"]
        )
    console.print(table)


@rules_app.command("show")
def show_cmd(ctx: typer.Context, rule_id: str, home: HomeOption = None, database_url: DatabaseUrlOption = None) -> None:
    """One rule as JSON, with its version history."""
    _, engine = _session(ctx, home, database_url)
    with session_scope(session_factory(engine)) as session:
        service.list_rules(session)
        try:
            rule = service.get_rule(session, rule_id)
        except NotFound as exc:
            raise fail(f"no rule {rule_id!r}") from exc
        out = service.rule_definition(rule)
        out["history"] = service.rule_history(session, rule_id)
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


@rules_app.command("check")
def check_cmd(condition: Annotated[str, typer.Argument(help="a SQL boolean expression over the rule columns")]) -> None:
    """Check a condition without saving it: known columns, allowed functions, types."""
    from bankcrm.analytics.rules import compile_rule

    try:
        compiled = compile_rule("check", condition)
    except ConditionError as exc:
        raise fail(f"condition: {exc}") from exc
    console.print(f"ok: reads {', '.join(compiled.condition.columns)}")


@rules_app.command("columns")
def columns_cmd(json_output: JsonOption = False) -> None:
    """The columns a condition may use."""
    from bankcrm.analytics.rule_features import RULE_FEATURE_COLUMNS
    from bankcrm.analytics.rules import RULE_COLUMNS

    rows = [
        {"column": name, "type": kind, "meaning": RULE_FEATURE_COLUMNS.get(name, (kind, "published score (SPEC 4)"))[1]}
        for name, kind in sorted(RULE_COLUMNS.items())
    ]
    if json_output:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="rule columns")
    for column in ("column", "type", "meaning"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["column"], row["type"], row["meaning"])
    console.print(table)


@rules_app.command("add")
def add_cmd(
    ctx: typer.Context,
    rule_file: Annotated[Path, typer.Argument(help="JSON file with the rule's fields (see `bankcrm rules show`)")],
    enable: Annotated[bool, typer.Option("--enable", help="enable at once instead of after a preview")] = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Add a rule from a JSON file; it starts disabled so it can be previewed first."""
    try:
        data = json.loads(rule_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise fail(f"{rule_file}: {exc}") from exc
    if not isinstance(data, dict):
        raise fail(f"{rule_file}: expected one JSON object with the rule's fields")
    data["enabled"] = enable
    _, engine = _session(ctx, home, database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            rule = service.create_rule(session, data, actor=Actor.cli())
            rule_id, enabled = rule.rule_id, rule.enabled
    except service.RuleError as exc:
        raise fail(str(exc)) from exc
    console.print(f"added rule {rule_id} ({'enabled' if enabled else 'disabled: preview, then enable'})")


@rules_app.command("set")
def set_cmd(
    ctx: typer.Context,
    rule_id: str,
    assignments: Annotated[list[str], typer.Argument(help="field=value (JSON values; bare words are text)")],
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Change fields of a rule, e.g. `bankcrm rules set need_mortgage "condition=mortgage_rate_views_30d >= 4"`."""
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep:
            raise fail(f"{item!r}: expected field=value")
        try:
            changes[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key.strip()] = raw
    _, engine = _session(ctx, home, database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            service.list_rules(session)
            rule = service.update_rule(session, rule_id, changes, actor=Actor.cli())
            version = rule.version
    except NotFound as exc:
        raise fail(f"no rule {rule_id!r}") from exc
    except service.RuleError as exc:
        raise fail(str(exc)) from exc
    console.print(f"rule {rule_id} is now version {version}")


def _toggle(ctx: typer.Context, rule_id: str, enabled: bool, home: Path | None, database_url: str | None) -> None:
    _, engine = _session(ctx, home, database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            service.list_rules(session)
            service.set_enabled(session, rule_id, enabled, actor=Actor.cli())
    except NotFound as exc:
        raise fail(f"no rule {rule_id!r}") from exc
    except service.RuleError as exc:
        raise fail(str(exc)) from exc
    console.print(f"rule {rule_id} {'enabled' if enabled else 'disabled'}")


@rules_app.command("enable")
def enable_cmd(
    ctx: typer.Context, rule_id: str, home: HomeOption = None, database_url: DatabaseUrlOption = None
) -> None:
    """Enable a rule: the next nightly run evaluates it."""
    _toggle(ctx, rule_id, True, home, database_url)


@rules_app.command("disable")
def disable_cmd(
    ctx: typer.Context, rule_id: str, home: HomeOption = None, database_url: DatabaseUrlOption = None
) -> None:
    """Disable a rule: open items stay, no new ones are raised."""
    _toggle(ctx, rule_id, False, home, database_url)


@rules_app.command("preview")
def preview_cmd(
    ctx: typer.Context,
    rule_id: Annotated[str | None, typer.Argument(help="a saved rule (or give --condition)")] = None,
    condition: Annotated[str | None, typer.Option("--condition", help="a condition to try")] = None,
    sample: Annotated[int, typer.Option("--sample", min=0, max=200, help="customers to list")] = 10,
    json_output: JsonOption = False,
    home: HomeOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """How many customers of the current run a rule (or a condition) hits, and a sample of them."""
    settings, engine = _session(ctx, home, database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            service.list_rules(session)
            if condition is None:
                if rule_id is None:
                    raise fail("give a rule id or --condition")
                condition = service.get_rule(session, rule_id).condition
            result = service.preview(session, settings.lake_dir, condition, sample=sample)
    except NotFound as exc:
        raise fail(f"no rule {rule_id!r}") from exc
    except service.RuleError as exc:
        raise fail(str(exc)) from exc
    if json_output:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
        return
    console.print(
        f"run {result['run_id']} ({result['as_of']}): {result['hits']:,} of {result['customers']:,} customers"
    )
    if result["sample"]:
        table = Table()
        for column in result["sample"][0]:
            table.add_column(column)
        for row in result["sample"]:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
