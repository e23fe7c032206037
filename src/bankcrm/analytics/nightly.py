"""The nightly job (SPEC 4): read the lake, compute every feature and label, publish atomically.

Steps (each timed): prepare → read → features → tiers → value → segments → clv → rules →
holdings → tasks → publish. All computation is Ibis expressions run by the chosen engine, except the two
model fits that need the sample in memory (K-means; BG/NBD and Gamma-Gamma), which run in
NumPy on inputs the engine produced.

The maintenance rules (SPEC 5.3/5.4) are evaluated inside the engine over the scores and the
trigger facts of ``rule_features``; their items are written (``tasks``) before the pointer
flips, so an alert raised from this night's data is never lost to a kill between the two —
the next run re-confirms open items instead of duplicating them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from sqlalchemy import Engine

from bankcrm import lake
from bankcrm.analytics import (
    clv,
    engines,
    lifetime,
    publish,
    publish_holdings,
    rule_features,
    rules,
    segments,
    shared,
    tiers,
    value,
)
from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.configuration import load_config
from bankcrm.analytics.features import left_join_on
from bankcrm.config import Settings
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import repository as repo
from bankcrm.tasks import service as task_service
from bankcrm.tasks.conditions import ConditionError
from bankcrm.tasks.models import Rule

STEPS = (
    "prepare",
    "read",
    "features",
    "tiers",
    "value",
    "segments",
    "clv",
    "rules",
    "holdings",
    "tasks",
    "publish",
)


class NightlyError(Exception):
    """A user-facing reason the nightly run cannot proceed."""


@dataclass
class RunResult:
    run_id: int
    as_of: date
    engine: str
    customers: int
    timings: dict[str, float] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    value_classes: dict[str, int] = field(default_factory=dict)
    segment_profile: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)
    tasks_created: int = 0
    opportunities_created: int = 0
    rule_hits: dict[str, int] = field(default_factory=dict)
    rule_errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "engine": self.engine,
            "customers": self.customers,
            "tiers": self.tiers,
            "segments": self.segments,
            "value_classes": self.value_classes,
            "segment_profile": self.segment_profile,
            "tasks_created": self.tasks_created,
            "opportunities_created": self.opportunities_created,
            "rule_hits": self.rule_hits,
            "rule_errors": self.rule_errors,
            "timings": self.timings,
            "models": self.models,
        }


StepCallback = Callable[[str, float], None]


def run_nightly(
    settings: Settings,
    db_engine: Engine,
    as_of: date,
    *,
    engine: engines.Engine = "duckdb",
    spark_master: str | None = None,
    on_step: StepCallback | None = None,
) -> RunResult:
    """Run every step for as_of and publish; the previous run stays current until the last moment."""
    timings: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - started, 3)
        if on_step:
            on_step(name, timings[name])

    lake_dir = settings.lake_dir
    with step("prepare"):
        if not lake.master_path(lake_dir, "customers").exists():
            raise NightlyError(f"no customers in the lake under {settings.home}: load a bundle with `bankcrm ingest`")
        config = load_config(db_engine)
        with session_scope(session_factory(db_engine)) as session:
            repo.abandon_unfinished_runs(session)
        publish.sync_tier_history(db_engine, lake_dir)
        active_rules = load_enabled_rules(db_engine)
        with session_scope(session_factory(db_engine)) as session:
            run_id = repo.create_run(session, as_of=as_of, engine=engine, config_json=config.model_dump_json()).id

    try:
        result = _compute_and_publish(
            settings, db_engine, as_of, engine, spark_master, config, run_id, step, timings, active_rules
        )
    except BaseException as exc:
        with session_scope(session_factory(db_engine)) as session:
            repo.mark_failed(session, run_id, f"{type(exc).__name__}: {exc}")
        raise
    return result


def _compute_and_publish(
    settings: Settings,
    db_engine: Engine,
    as_of: date,
    engine: engines.Engine,
    spark_master: str | None,
    config: NightlyConfig,
    run_id: int,
    step: Callable[[str], Any],
    timings: dict[str, float],
    active_rules: list[Rule],
) -> RunResult:
    lake_dir = settings.lake_dir
    with step("read"):
        con = engines.connect(
            engine,
            spark_master=spark_master,
            memory_limit=settings.nightly_memory_limit,
            spill_dir=settings.home / "tmp" / "nightly-spill",
        )
        inputs = engines.read_lake(con, lake_dir, as_of)
        history = engines.read_tier_history(con, publish.tier_history_files(lake_dir))
    try:
        with step("features"):
            # the balance and transaction aggregates every later step reads, computed once (shared.py)
            history_start = engines.history_start(con, inputs) or as_of
            rule_config = rule_features.RuleFeatureConfig.from_nightly(config)
            shared_exprs = shared.shared_expressions(
                inputs.accounts, inputs.balances, inputs.transactions, as_of, history_start, config, rule_config
            )
            account_sums = engines.materialize(con, shared_exprs.account_sums, "account_sums")
            customer_summary = engines.materialize(con, shared_exprs.customer_summary, "customer_summary")
            features = engines.materialize(
                con,
                engines.feature_expression(
                    inputs, as_of, config, account_sums=account_sums, customer_summary=customer_summary
                ),
                "features",
            )
        with step("tiers"):
            raw = tiers.with_tier_raw(features, config).select("customer_id", "tier_raw")
            tier_table = engines.materialize(con, tiers.apply_hysteresis(raw, history, as_of, config), "tiers")
        with step("value"):
            classes = value.value_class(features, config)
            index = value.value_index(features, config)
        with step("segments"):
            seg_inputs = con.to_pyarrow(segments.segment_inputs(features))
            model = segments.fit_segments(seg_inputs, sample_size=config.segment_sample_size, seed=config.segment_seed)
            assigned = segments.assign_segments(features, model)
            scored = engines.materialize(con, _join_all(features, tier_table, classes, index, assigned), "scored")
            published = con.to_pyarrow(scored.order_by("customer_id"))
            profile = con.to_pyarrow(segments.segment_profile(scored)).to_pylist()
        with step("clv"):
            historical = con.to_pyarrow(
                lifetime.historical_contribution(
                    inputs.customers,
                    inputs.accounts,
                    inputs.products,
                    inputs.balances,
                    inputs.transactions,
                    as_of,
                    history_start,
                    config,
                    account_sums=account_sums,
                    customer_summary=customer_summary,
                ).order_by("customer_id")
            )
            rfm = con.to_pyarrow(
                lifetime.rfm_summary(
                    inputs.customers,
                    inputs.accounts,
                    inputs.transactions,
                    as_of,
                    history_start,
                    customer_summary=customer_summary,
                ).order_by("customer_id")
            )
            published, clv_models = _add_lifetime_value(published, historical, rfm, config)
        with step("rules"):
            compiled, rule_errors = _compile_rules(active_rules)
            facts = engines.materialize(
                con,
                rule_features.customer_rule_features(
                    inputs.customers,
                    inputs.accounts,
                    inputs.products,
                    inputs.balances,
                    inputs.transactions,
                    inputs.behavior_events,
                    history,
                    as_of,
                    rule_config,
                    account_sums=account_sums,
                    customer_summary=customer_summary,
                ),
                "rule_features",
            )
            table = engines.materialize(con, rules.rule_table(scored, facts), "rule_table")
            hits = con.to_pyarrow(rules.evaluate(table, compiled).order_by("customer_id"))
            engines.write_parquet(con, table.order_by("customer_id"), publish.rule_table_file(lake_dir, run_id))
        with step("holdings"):
            # the 360 view's positions and 12-month AUM trend, under the new run id before the flip
            holdings = publish_holdings.publish_holdings(
                con, inputs, db_engine, run_id, as_of, account_sums=account_sums
            )
    finally:
        engines.disconnect(con)

    with step("tasks"):
        evaluated = [r for r in active_rules if r.rule_id not in rule_errors]
        with db_engine.begin() as conn:
            items = task_service.record_run_items(
                conn,
                run_id,
                hits,
                evaluated,
                {c.rule_id: c.condition.columns for c in compiled},
                now=datetime.now(UTC),
            )
        with session_scope(session_factory(db_engine)) as session:
            task_service.escalate_overdue(session)

    summary = {
        "as_of": as_of,
        "customers": published.num_rows,
        "tiers": _counts(published, "tier"),
        "segments": _counts(published, "segment"),
        "value_classes": _counts(published, "value_class"),
        "segment_profile": profile,
        "models": {"segments": model.to_dict(), **clv_models},
        "tasks_created": items.tasks_created,
        "opportunities_created": items.opportunities_created,
        "rule_hits": items.by_rule,
        "rule_errors": rule_errors,
        "holdings": holdings,
    }
    with step("publish"):
        publish.publish(
            db_engine,
            lake_dir,
            run_id,
            published,
            timings=timings,
            summary=summary,
            keep_runs=config.keep_score_runs,
        )
    return RunResult(
        run_id=run_id,
        as_of=as_of,
        engine=engine,
        customers=published.num_rows,
        timings=dict(timings),
        tiers=summary["tiers"],
        segments=summary["segments"],
        value_classes=summary["value_classes"],
        segment_profile=profile,
        models=summary["models"],
        tasks_created=items.tasks_created,
        opportunities_created=items.opportunities_created,
        rule_hits=items.by_rule,
        rule_errors=rule_errors,
    )


RULE_COLUMNS = [c.key for c in Rule.__table__.columns]


def load_enabled_rules(db_engine: Engine) -> list[Rule]:
    """The enabled rules as detached copies (the shipped defaults are added first if missing)."""
    with session_scope(session_factory(db_engine)) as session:
        task_service.ensure_default_rules(session)
        stored = task_service.list_rules(session)
        return [Rule(**{k: getattr(r, k) for k in RULE_COLUMNS}) for r in stored if r.enabled]


def _compile_rules(active: list[Rule]) -> tuple[list[rules.CompiledRule], dict[str, str]]:
    """Checked conditions; a rule that no longer passes is skipped and reported, not fatal to the night."""
    compiled: list[rules.CompiledRule] = []
    errors: dict[str, str] = {}
    for rule in active:
        try:
            compiled.append(rules.compile_rule(rule.rule_id, rule.condition))
        except ConditionError as exc:
            errors[rule.rule_id] = str(exc)
    return compiled, errors


def _join_all(features: ir.Table, *parts: ir.Table) -> ir.Table:
    out = features
    for part in parts:
        out = left_join_on(out, part, "customer_id")
    return out


def _counts(table: pa.Table, column: str) -> dict[str, int]:
    return dict(sorted(Counter(table.column(column).to_pylist()).items(), key=lambda kv: str(kv[0])))


def _add_lifetime_value(
    published: pa.Table, historical: pa.Table, rfm: pa.Table, config: NightlyConfig
) -> tuple[pa.Table, dict[str, Any]]:
    """clv_historical, clv_current, clv_potential and p_alive, aligned by customer_id."""
    ids = published.column("customer_id")
    if not (historical.column("customer_id").equals(ids) and rfm.column("customer_id").equals(ids)):
        raise NightlyError("internal: lifetime inputs are not aligned with the feature table")
    current = published.column("net_contribution").to_numpy(zero_copy_only=False).astype(np.float64)
    frequency = rfm.column("frequency").to_numpy(zero_copy_only=False).astype(np.float64)
    recency = rfm.column("recency").to_numpy(zero_copy_only=False).astype(np.float64)
    age_t = rfm.column("T").to_numpy(zero_copy_only=False).astype(np.float64)
    active = rfm.column("active").to_numpy(zero_copy_only=False).astype(bool)
    p_alive = np.full(len(current), np.nan)
    retention = np.zeros(len(current))
    models: dict[str, Any] = {}
    if active.sum() >= config.clv_min_customers:
        f, r, t = frequency[active], recency[active], age_t[active]
        try:
            fit = clv.fit_bgnbd(f, r, t)
        except clv.CLVFitError as exc:  # e.g. nobody bought twice: report it, publish without p_alive
            models["bgnbd"] = {"error": str(exc)}
        else:
            # fitted on customers with activity, applied to everyone (no purchase yet: x = t_x = 0)
            p_alive = fit.p_alive(frequency, recency, age_t)
            retention = clv.retention_one_year(fit, frequency, recency, age_t, periods_per_year=365)
            models["bgnbd"] = {
                "r": fit.r,
                "alpha": fit.alpha,
                "a": fit.a,
                "b": fit.b,
                "log_likelihood": fit.log_likelihood,
                "converged": fit.converged,
            }
        monetary = rfm.column("monetary_value").to_numpy(zero_copy_only=False).astype(np.float64)[active]
        repeat = (f > 0) & np.isfinite(monetary) & (monetary > 0)
        if repeat.sum() >= config.clv_min_customers:
            try:
                gg = clv.fit_gamma_gamma(f[repeat], monetary[repeat])
                models["gamma_gamma"] = {"p": gg.p, "q": gg.q, "gamma": gg.gamma, "log_likelihood": gg.log_likelihood}
            except clv.CLVFitError as exc:  # monetary data that does not fit the model is reported, not fatal
                models["gamma_gamma"] = {"error": str(exc)}
    potential = clv.potential_value(current, retention, years=config.clv_years, discount=config.clv_discount_rate)
    out = published
    for name, values in (
        ("clv_historical", historical.column("clv_historical")),
        ("clv_current", pa.array(current, pa.float64())),
        ("clv_potential", pa.array(potential, pa.float64())),
        ("p_alive", pa.array(p_alive, pa.float64(), from_pandas=True)),
    ):
        out = out.append_column(name, values)
    return out, models
