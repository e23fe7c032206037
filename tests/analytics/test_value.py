"""Value class (SPEC 4.4) and value index (SPEC 4.6) on hand-made feature rows."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pytest
from nightly_tables import collect, evaluate
from pydantic import ValidationError

from bankcrm.analytics.config import CurrentValueWeights, NightlyConfig, PotentialValueWeights, ValueIndexWeights
from bankcrm.analytics.value import life_stage_score, numpy_percentile, percent_rank, value_class, value_index


def _nets(values: list[float]) -> ibis.Table:
    return ibis.memtable(
        pa.table({"customer_id": [f"c{i}" for i in range(len(values))], "net_contribution": pa.array(values)})
    )


def _classes(values: list[float]) -> list[str]:
    rows = collect(value_class(_nets(values)))
    return [rows[f"c{i}"]["value_class"] for i in range(len(values))]


def _percentile(values: list[float]) -> float:
    return evaluate(numpy_percentile(_nets(values), "net_contribution", 80.0))["percentile"][0].as_py()


def test_80th_percentile_between_two_values() -> None:
    nets = [1_000.0, -10.0, 0.0, 49.99, 50.0, 100.0, 200.0]
    # 7 values: position 0.8 × 6 = 4.8 between the 5th (100) and 6th (200) smallest → 100 + 0.8 × 100
    assert _percentile(nets) == pytest.approx(180.0)
    assert _percentile(nets) == np.percentile(nets, 80)
    assert _classes(nets) == [
        "high_value",
        "loss",
        "breakeven",
        "breakeven",
        "micro_profit",
        "micro_profit",
        "high_value",
    ]


def test_80th_percentile_on_a_value_counts_as_reached() -> None:
    nets = [-10.0, 0.0, 49.99, 60.0, 100.0, 200.0]
    # 6 values: position 0.8 × 5 = 4 → exactly the 5th smallest, 100; net ≥ P80 is high value
    assert _percentile(nets) == 100.0 == np.percentile(nets, 80)
    assert _classes(nets) == ["loss", "breakeven", "breakeven", "micro_profit", "high_value", "high_value"]


def test_high_value_also_needs_50() -> None:
    # P80 = −5 + 0.8 × (10 − (−5)) = 7: 10 and 40 are above it but below ¥50 → breakeven
    low = [-100.0, -50.0, -20.0, -10.0, -5.0, 10.0, 40.0]
    assert _percentile(low) == pytest.approx(7.0)
    assert _classes(low)[-2:] == ["breakeven", "breakeven"]
    # P80 = −5 + 0.8 × 55 = 39: exactly ¥50 is high value
    edge = [-100.0, -50.0, -20.0, -10.0, -5.0, 50.0, 60.0]
    assert _percentile(edge) == pytest.approx(39.0)
    assert _classes(edge)[-2:] == ["high_value", "high_value"]


def test_percentile_matches_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(20260630)
    for n in (1, 2, 3, 6, 7, 11, 50):
        values = [float(v) for v in np.round(rng.normal(80, 400, n), 2)]
        assert _percentile(values) == float(np.percentile(values, 80))


def test_percent_rank_ties_and_nulls() -> None:
    table = ibis.memtable(pa.table({"k": list("abcdef"), "x": pa.array([2.0, None, 1.0, 3.0, None, 2.0])}))
    ranks = {r["k"]: r["pr"] for r in evaluate(table.select("k", pr=percent_rank(table.x))).to_pylist()}
    # n = 6: nulls share rank 1 → 0; 1.0 rank 3 → 2/5; the two 2.0 share rank 4 → 3/5; 3.0 rank 6 → 1
    assert ranks == {"b": 0.0, "e": 0.0, "c": 0.4, "a": 0.6, "f": 0.6, "d": 1.0}


def test_life_stage_edges() -> None:
    ages = [17, 18, 24, 25, 45, 46, 55, 56, None]
    table = ibis.memtable(pa.table({"age": pa.array(ages, pa.int64())}))
    scores = evaluate(table.select(s=life_stage_score(table.age)))["s"].to_pylist()
    assert scores == [0.3, 0.6, 0.6, 1.0, 1.0, 0.6, 0.6, 0.3, 0.3]


def test_value_index_worked_example() -> None:
    features = ibis.memtable(
        pa.table(
            {
                "customer_id": ["X", "Y", "Z"],
                "aum_avg_90d": [0.0, 100.0, 200.0],  # pr 0, .5, 1
                "net_contribution": [5.0, 5.0, -1.0],  # pr .5, .5, 0
                "product_count": [1, 2, 3],  # pr 0, .5, 1
                "tenure_years": [1.0, 1.0, 1.0],  # all tie: 0
                "aum_growth_6m": pa.array([None, 0.1, 0.5], pa.float64()),  # 0, .5, 1
                "tx_volume_growth_6m": pa.array([None, None, None], pa.float64()),  # 0
                "mobile_share_90d": pa.array([0.2, None, 0.2], pa.float64()),  # .5, 0, .5
                "tx_count_90d": [0, 0, 0],  # 0
                "payroll_months_3m": [3, 0, 1],  # 1, 0, .5
                "age": [30, 50, 70],  # life stage 1.0, 0.6, 0.3
            }
        )
    )
    rows = collect(value_index(features))
    # current: X 100(.30·.5) = 15; Y 100(.45·.5 + .30·.5 + .15·.5) = 45; Z 100(.45 + .15) = 60
    # potential: X 100(.15·.5 + .10·1 + .15·1) = 32.5; Y 100(.30·.5 + .15·.6) = 24;
    #            Z 100(.30 + .15·.5 + .10·.5 + .15·.3) = 47
    expected = {"X": (15.0, 32.5), "Y": (45.0, 24.0), "Z": (60.0, 47.0)}
    for cid, (current, potential) in expected.items():
        assert rows[cid]["current_value"] == pytest.approx(current)
        assert rows[cid]["potential_value"] == pytest.approx(potential)
        assert rows[cid]["value_index"] == pytest.approx(0.6 * current + 0.4 * potential)
    assert rows["Z"]["value_index"] == pytest.approx(54.8)


def test_weights_are_validated() -> None:
    assert NightlyConfig().value_index_weights == ValueIndexWeights(current=0.6, potential=0.4)
    with pytest.raises(ValidationError):
        ValueIndexWeights(current=0.7, potential=0.4)
    with pytest.raises(ValidationError):
        CurrentValueWeights(aum_avg_90d=1.2, net_contribution=-0.2, product_count=0.0, tenure_years=0.0)
    # rounding noise well inside 1e-9 is accepted
    PotentialValueWeights(
        aum_growth_6m=0.1 + 0.2,
        tx_volume_growth_6m=0.15,
        mobile_share_90d=0.15,
        tx_count_90d=0.15,
        payroll_months_3m=0.10,
        life_stage=0.15,
    )
    with pytest.raises(ValidationError):
        NightlyConfig(current_value_weights={"aum_avg_90d": 0.5})
