"""Nightly configuration in the database: validated changes, AHP weights, errors that name the fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bankcrm.analytics.config import NightlyConfig
from bankcrm.analytics.configuration import (
    ConfigError,
    load_config,
    read_comparison_matrix,
    save_config,
    weights_by_ahp,
    with_values,
)
from bankcrm.cli.main import app
from bankcrm.config import Settings

runner = CliRunner()


def test_defaults_until_changed_then_stored(engine: Engine) -> None:
    assert load_config(engine) == NightlyConfig()
    changed = with_values(NightlyConfig(), {"vip_aum_threshold": "600000", "margin_rates.fund": "0.01"})
    save_config(engine, changed, by="test")
    loaded = load_config(engine)
    assert loaded.vip_aum_threshold == 600_000 and loaded.margin_rates["fund"] == 0.01


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ({"nope": "1"}, "nope: no such setting"),
        ({"margin_rates.fund.x": "1"}, "no such setting"),
        ({"vip_aum_threshold": "-5"}, "vip_aum_threshold"),
        ({"current_value_weights.aum_avg_90d": "0.5"}, "sum to 1"),
    ],
)
def test_invalid_changes_are_refused(pairs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        with_values(NightlyConfig(), pairs)


def _matrix(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.csv"
    path.write_text(text)
    return path


def test_ahp_weights_replace_a_group(tmp_path: Path) -> None:
    # a perfectly consistent matrix: weights proportional to 4:2:1:1
    path = _matrix(
        tmp_path,
        "tenure_years,aum_avg_90d,net_contribution,product_count\n1,1/4,1/2,1\n4,1,2,4\n2,1/2,1,2\n1,1/4,1/2,1\n",
    )
    names, matrix = read_comparison_matrix(path)
    config, result = weights_by_ahp(NightlyConfig(), "current_value_weights", names, matrix)
    assert result.cr == pytest.approx(0.0, abs=1e-9)
    w = config.current_value_weights
    assert (w.aum_avg_90d, w.net_contribution, w.product_count, w.tenure_years) == pytest.approx(
        (0.5, 0.25, 0.125, 0.125)
    )


def test_ahp_refuses_inconsistent_or_wrong_indicators(tmp_path: Path) -> None:
    inconsistent = _matrix(
        tmp_path, "current,potential,x\n1,9,1/9\n1/9,1,9\n9,1/9,1\n"
    )  # a cycle: current ≫ potential ≫ x ≫ current
    names, matrix = read_comparison_matrix(inconsistent)
    with pytest.raises(ConfigError, match="exactly these indicators"):
        weights_by_ahp(NightlyConfig(), "value_index_weights", names, matrix)
    path = _matrix(tmp_path, "aum_avg_90d,net_contribution,product_count\n1,9,1/9\n1/9,1,9\n9,1/9,1\n")
    names, matrix = read_comparison_matrix(path)
    with pytest.raises(ConfigError, match="exactly these indicators"):
        weights_by_ahp(NightlyConfig(), "current_value_weights", names, matrix)


def test_matrix_file_errors_name_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 3, column 2: not a number: 'x'"):
        read_comparison_matrix(_matrix(tmp_path, "a,b\n1,2\n1/2,x\n"))
    with pytest.raises(ConfigError, match="2 indicator names but 1 matrix rows"):
        read_comparison_matrix(_matrix(tmp_path, "a,b\n1,2\n"))


def test_cli_ahp_refuses_cr_over_limit(settings: Settings, tmp_path: Path) -> None:
    path = _matrix(
        tmp_path,
        "current,potential\n1,3\n1/3,1\n",
    )
    ok = runner.invoke(app, ["config", "ahp", "value_index_weights", str(path), "--home", str(settings.home)])
    assert ok.exit_code == 0, ok.output
    # four potential-value indicators in a strong cycle are inconsistent
    bad = _matrix(
        tmp_path,
        "aum_growth_6m,tx_volume_growth_6m,mobile_share_90d,tx_count_90d,payroll_months_3m,life_stage\n"
        "1,9,1/9,1,1,1\n1/9,1,9,1,1,1\n9,1/9,1,1,1,1\n1,1,1,1,1,1\n1,1,1,1,1,1\n1,1,1,1,1,1\n",
    )
    result = runner.invoke(app, ["config", "ahp", "potential_value_weights", str(bad), "--home", str(settings.home)])
    assert result.exit_code == 2 and "consistency ratio 0.840" in result.output, result.output
    shown = runner.invoke(app, ["config", "show", "--json", "--home", str(settings.home)])
    assert '"current": 0.75' in shown.output and '"aum_growth_6m": 0.3' in shown.output
