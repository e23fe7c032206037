"""Segments: deterministic sample, naming by centroid rules, in-engine assignment equals nearest centroid."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pytest

from bankcrm.analytics.segments import (
    SEGMENT_FEATURES,
    assign_segments,
    choose_sample,
    fit_segments,
    name_clusters,
    segment_inputs,
    segment_profile,
)


def _bank(n_per_group: int = 40, seed: int = 7) -> pa.Table:
    """Four well-separated groups: rich middle-aged, wealthy old counter users, young mobile, old poor."""
    rng = np.random.default_rng(seed)
    groups = [
        # (aum, age, tx_count, mobile_share, growth)
        ("rich", 2_000_000, 45, 30, 0.5, 0.1),
        ("older", 300_000, 66, 8, 0.1, 0.0),
        ("young", 8_000, 27, 60, 0.95, 1.5),
        ("plain", 3_000, 52, 5, 0.3, -0.2),
    ]
    rows: dict[str, list[object]] = {
        k: []
        for k in ("customer_id", "group", "aum_avg_90d", "age", "tx_count_90d", "mobile_share_90d", "aum_growth_6m")
    }
    for g, aum, age, tx, mob, growth in groups:
        for i in range(n_per_group):
            rows["customer_id"].append(f"{g}-{i:03d}")
            rows["group"].append(g)
            rows["aum_avg_90d"].append(float(aum * rng.uniform(0.8, 1.2)))
            rows["age"].append(int(age + rng.integers(-3, 4)))
            rows["tx_count_90d"].append(int(tx + rng.integers(-2, 3)))
            rows["mobile_share_90d"].append(float(np.clip(mob + rng.normal(0, 0.03), 0, 1)))
            rows["aum_growth_6m"].append(float(growth + rng.normal(0, 0.05)))
    return pa.table(rows)


def test_naming_rules_on_hand_made_centroids() -> None:
    # columns: ln_aum, age, tx, mobile, growth
    centroids = np.array(
        [
            [8.0, 52, 5, 0.3, 0.0],  # poor, older -> D
            [14.0, 45, 30, 0.5, 0.1],  # richest -> B
            [8.5, 27, 60, 0.9, 1.5],  # poor, young -> A
            [12.0, 66, 8, 0.1, 0.0],  # second richest -> C
        ]
    )
    assert name_clusters(centroids) == ("D", "B", "A", "C")


def test_fit_and_assign_recover_the_groups_and_name_them() -> None:
    bank = _bank()
    con = ibis.duckdb.connect()
    features = con.create_table("f", bank)
    inputs = con.to_pyarrow(segment_inputs(features))
    model = fit_segments(inputs, sample_size=1000, seed=1)
    assigned = con.to_pyarrow(assign_segments(features, model)).to_pandas().set_index("customer_id")
    groups = bank.to_pandas().set_index("customer_id")["group"]
    letter_of_group = {g: assigned.loc[groups[groups == g].index, "segment"].unique().tolist() for g in set(groups)}
    assert letter_of_group == {"rich": ["B"], "older": ["C"], "young": ["A"], "plain": ["D"]}


def test_in_engine_assignment_equals_numpy_nearest_centroid() -> None:
    bank = _bank(n_per_group=30, seed=3)
    # blur the groups so that many customers sit between centroids
    con = ibis.duckdb.connect()
    features = con.create_table("f", bank)
    inputs = con.to_pyarrow(segment_inputs(features))
    model = fit_segments(inputs, sample_size=60, seed=5)
    got = con.to_pyarrow(assign_segments(features, model)).to_pandas().set_index("customer_id")["segment"]
    x = np.column_stack([inputs.column(n).to_numpy() for n in SEGMENT_FEATURES])
    z = (x - np.array(model.means)) / np.array(model.stds)
    d = ((z[:, None, :] - np.array(model.centroids)[None, :, :]) ** 2).sum(axis=2)
    expected = [model.letters[k] for k in d.argmin(axis=1)]
    ids = inputs.column("customer_id").to_pylist()
    assert [got[c] for c in ids] == expected


def test_sample_is_deterministic_and_independent_of_row_order() -> None:
    bank = _bank()
    a = choose_sample(bank, 50).column("customer_id").to_pylist()
    shuffled = bank.take(pa.array(np.random.default_rng(0).permutation(bank.num_rows)))
    b = choose_sample(shuffled, 50).column("customer_id").to_pylist()
    assert len(a) == 50 and sorted(a) == sorted(b)


def test_fit_is_deterministic() -> None:
    inputs = segment_inputs(ibis.memtable(_bank())).to_pyarrow()
    assert fit_segments(inputs, seed=11) == fit_segments(inputs, seed=11)


def test_nulls_and_clipping_follow_the_spec() -> None:
    t = ibis.memtable(
        {
            "customer_id": ["a", "b"],
            "aum_avg_90d": [0.0, float(np.e - 1)],
            "age": [30, 40],
            "tx_count_90d": [0, 3],
            "mobile_share_90d": [None, 0.5],
            "aum_growth_6m": [None, 7.5],
        }
    )
    out = segment_inputs(t).to_pyarrow().to_pydict()
    assert out["mobile_share_90d"] == [0.0, 0.5]
    assert out["aum_growth_6m"] == [0.0, 3.0]
    assert out["ln_aum_90d"] == pytest.approx([0.0, 1.0])


def test_too_few_customers_refused() -> None:
    inputs = segment_inputs(ibis.memtable(_bank(n_per_group=1))).to_pyarrow().slice(0, 3)
    with pytest.raises(ValueError, match="at least 4"):
        fit_segments(inputs)


def test_profile_sizes_and_shares() -> None:
    t = ibis.memtable(
        {
            "segment": ["A", "A", "B"],
            "age": [20, 30, 50],
            "aum_avg_90d": [1.0, 3.0, 10.0],
            "tx_count_90d": [1, 3, 5],
            "mobile_share_90d": [0.5, 1.0, 0.0],
            "current_value": [10.0, 20.0, 90.0],
            "potential_value": [50.0, 70.0, 10.0],
        }
    )
    prof = segment_profile(t).to_pyarrow().to_pylist()
    assert prof[0]["segment"] == "A" and prof[0]["customers"] == 2 and prof[0]["mean_age"] == 25
    assert prof[0]["share"] == pytest.approx(2 / 3) and prof[1]["mean_potential_value"] == 10
