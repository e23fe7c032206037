"""`bankcrm scores export`: exact columns, CSV and Parquet, run selection and its errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import Engine
from typer.testing import CliRunner

from bankcrm.cli.main import app
from bankcrm.config import Settings
from bankcrm.db.engine import session_factory, session_scope
from bankcrm.scores import repository as repo
from bankcrm.scores.service import EXPORT_COLUMNS

runner = CliRunner()

SPEC_COLUMNS = (
    "customer_id, aum_avg_30d, aum_avg_90d, aum_avg_180d, aum_growth_6m, liability_balance, tx_count_90d, "
    "tx_amount_90d, tx_volume_growth_6m, mobile_share_90d, counter_share_90d, last_tx_date, recency_days, "
    "active_months_6m, payroll_months_3m, product_count, age, tenure_years, revenue_annual, cost_annual, "
    "net_contribution, value_class, tier_raw, tier, segment, current_value, potential_value, value_index, "
    "clv_historical, clv_current, clv_potential, p_alive"
)


def test_export_columns_are_the_spec_list() -> None:
    assert list(EXPORT_COLUMNS) == SPEC_COLUMNS.split(", ")


def test_export_latest_csv_and_parquet(
    settings: Settings, engine: Engine, tmp_path: Path, publish: Callable[..., int]
) -> None:
    publish(engine, date(2026, 2, 28), ["c1", "c2"], ["ordinary", "ordinary"])
    publish(engine, date(2026, 3, 31), ["c2", "c1"], ["vip", "potential"])
    out = tmp_path / "scores.csv"
    result = runner.invoke(app, ["scores", "export", str(out), "--home", str(settings.home)])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [(r["customer_id"], r["tier"]) for r in rows] == [("c1", "potential"), ("c2", "vip")]
    assert float(rows[1]["aum_avg_30d"]) == 1234.5678
    assert rows[0]["last_tx_date"] == "2026-03-01" and rows[0]["aum_growth_6m"] == ""

    pq_out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["scores", "export", str(pq_out), "--run", "1", "--home", str(settings.home)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(pq_out)
    assert table.column_names == list(EXPORT_COLUMNS)
    assert table.column("tier").to_pylist() == ["ordinary", "ordinary"]


def test_export_errors_name_the_problem(
    settings: Settings, engine: Engine, tmp_path: Path, publish: Callable[..., int]
) -> None:
    result = runner.invoke(app, ["scores", "export", str(tmp_path / "s.csv"), "--home", str(settings.home)])
    assert result.exit_code == 2 and "no published run" in result.output
    first = publish(engine, date(2026, 1, 31), ["c1"], ["vip"])
    for _ in range(3):
        publish(engine, date(2026, 2, 28), ["c1"], ["vip"])
    with session_scope(session_factory(engine)) as s:
        repo.prune_scores(s, keep_runs=3)
    cases = {
        ("s.txt", "latest"): "must end in .csv or .parquet",
        ("s.csv", "abc"): "expected a run id or 'latest'",
        ("s.csv", "99"): "no published run with that id",
        ("s.csv", str(first)): "were pruned",
    }
    for (name, run), message in cases.items():
        result = runner.invoke(
            app, ["scores", "export", str(tmp_path / name), "--run", run, "--home", str(settings.home)]
        )
        assert result.exit_code == 2, (name, run, result.output)
        assert message in result.output, (name, run, result.output)


def test_migration_cli_defaults_to_current_and_previous(
    settings: Settings, engine: Engine, publish: Callable[..., int]
) -> None:
    home = ["--home", str(settings.home)]
    result = runner.invoke(app, ["scores", "migration", *home])
    assert result.exit_code == 2 and "no published run" in result.output
    first = publish(engine, date(2026, 1, 31), ["c1", "c2", "c3"], ["vip", "potential", "ordinary"])
    result = runner.invoke(app, ["scores", "migration", *home])
    assert result.exit_code == 2 and "nothing to compare" in result.output
    second = publish(engine, date(2026, 2, 28), ["c1", "c2", "c4"], ["vip", "vip", "ordinary"])
    result = runner.invoke(app, ["scores", "migration", "--json", *home])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["from_run"], body["to_run"]) == (first, second)
    cells = {(c["from"], c["to"]): c["customers"] for c in body["cells"]}
    assert cells == {("vip", "vip"): 1, ("potential", "vip"): 1, ("ordinary", "none"): 1, ("none", "ordinary"): 1}
    result = runner.invoke(app, ["scores", "migration", "--from", "7", *home])
    assert result.exit_code == 2 and "--from 7" in result.output
