"""Lifecycle segments A/B/C/D (SPEC 4.5): K-means on a deterministic sample, applied in the engine.

Fitting happens in NumPy/scikit-learn on at most ``sample_size`` customers chosen by a
stable hash of customer_id (the same customers on every engine and every run). The fitted
scaler and centroids are then turned into an Ibis expression, so every customer is
assigned to its nearest centroid inside DuckDB or Spark without leaving the engine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from sklearn.cluster import KMeans

SEGMENT_FEATURES = ("ln_aum_90d", "age", "tx_count_90d", "mobile_share_90d", "aum_growth_6m")


@dataclass(frozen=True)
class SegmentModel:
    """Standardisation and centroids (in standardised units) with each centroid's segment letter."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    letters: tuple[str, ...]
    sample_size: int

    def centroids_raw(self) -> np.ndarray:
        """Centroids back in the original feature units (for naming and for people)."""
        return np.asarray(self.centroids) * np.asarray(self.stds) + np.asarray(self.means)

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(SEGMENT_FEATURES),
            "means": list(self.means),
            "stds": list(self.stds),
            "centroids": [list(c) for c in self.centroids],
            "letters": list(self.letters),
            "sample_size": self.sample_size,
        }


def segment_inputs(features: ir.Table) -> ir.Table:
    """The five K-means inputs with SPEC 4.5's null handling and clipping."""
    return features.select(
        "customer_id",
        ln_aum_90d=(features.aum_avg_90d.cast("float64").fill_null(0.0) + 1.0).ln(),
        age=features.age.cast("float64"),
        tx_count_90d=features.tx_count_90d.cast("float64").fill_null(0.0),
        mobile_share_90d=features.mobile_share_90d.cast("float64").fill_null(0.0),
        aum_growth_6m=features.aum_growth_6m.cast("float64").fill_null(0.0).clip(lower=-1.0, upper=3.0),
    )


def sample_rank(customer_id: str) -> int:
    """Stable 64-bit rank of a customer for sampling (independent of engine and Python hash seed)."""
    return int.from_bytes(hashlib.blake2b(customer_id.encode("utf-8"), digest_size=8).digest(), "big")


def choose_sample(inputs: pa.Table, sample_size: int) -> pa.Table:
    """The ``sample_size`` customers with the smallest hash rank (all of them when fewer)."""
    if inputs.num_rows <= sample_size:
        return inputs
    ranks = np.fromiter(
        (sample_rank(c) for c in inputs.column("customer_id").to_pylist()), dtype=np.uint64, count=inputs.num_rows
    )
    keep = np.sort(np.argpartition(ranks, sample_size - 1)[:sample_size])
    return inputs.take(pa.array(keep))


def name_clusters(centroids_raw: np.ndarray) -> tuple[str, ...]:
    """Letters for each centroid by SPEC 4.5: B richest, C next, then A the younger of the rest, D last."""
    aum = centroids_raw[:, SEGMENT_FEATURES.index("ln_aum_90d")]
    age = centroids_raw[:, SEGMENT_FEATURES.index("age")]
    order = sorted(range(len(aum)), key=lambda i: (-aum[i], i))
    letters = [""] * len(aum)
    letters[order[0]] = "B"
    letters[order[1]] = "C"
    rest = sorted(order[2:], key=lambda i: (age[i], i))
    letters[rest[0]] = "A"
    for i in rest[1:]:
        letters[i] = "D"
    return tuple(letters)


def fit_segments(inputs: pa.Table, *, sample_size: int = 200_000, seed: int = 20240601) -> SegmentModel:
    """Fit K-means (k = 4) on the standardised sample; refuse fewer than 4 distinct customers."""
    sample = choose_sample(inputs, sample_size)
    x = np.column_stack([sample.column(name).to_numpy(zero_copy_only=False) for name in SEGMENT_FEATURES]).astype(
        np.float64
    )
    if len(np.unique(x, axis=0)) < 4:
        raise ValueError("segments need at least 4 customers with distinct features")
    means = x.mean(axis=0)
    stds = x.std(axis=0)
    stds[stds == 0] = 1.0  # a constant feature carries no information; keep it at 0 after scaling
    z = (x - means) / stds
    km = KMeans(n_clusters=4, n_init=10, random_state=seed).fit(z)
    centroids = km.cluster_centers_
    letters = name_clusters(centroids * stds + means)
    return SegmentModel(
        means=tuple(float(v) for v in means),
        stds=tuple(float(v) for v in stds),
        centroids=tuple(tuple(float(v) for v in c) for c in centroids),
        letters=letters,
        sample_size=len(x),
    )


def assign_segments(features: ir.Table, model: SegmentModel) -> ir.Table:
    """customer_id and segment letter for every customer: nearest centroid, computed in the engine."""
    inputs = segment_inputs(features)
    z = {name: (inputs[name] - model.means[i]) / model.stds[i] for i, name in enumerate(SEGMENT_FEATURES)}
    distances = [
        sum(((z[name] - centroid[i]) ** 2 for i, name in enumerate(SEGMENT_FEATURES)), ibis.literal(0.0))
        for centroid in model.centroids
    ]
    # nearest centroid; ties go to the lower centroid index, as in scikit-learn
    conditions = []
    for k, d_k in enumerate(distances):
        closer = [d_k <= d_j if j > k else d_k < d_j for j, d_j in enumerate(distances) if j != k]
        cond = closer[0]
        for c in closer[1:]:
            cond = cond & c
        conditions.append((cond, model.letters[k]))
    segment = ibis.cases(*conditions[:-1], else_=model.letters[-1])
    return inputs.select("customer_id", segment=segment)


def segment_profile(scored: ir.Table) -> ir.Table:
    """Size and means per segment for the quadrant chart (needs the value-index columns)."""
    return (
        scored.group_by("segment")
        .aggregate(
            customers=scored.count(),
            mean_age=scored.age.mean(),
            mean_aum_90d=scored.aum_avg_90d.mean(),
            mean_tx_count_90d=scored.tx_count_90d.mean(),
            mean_mobile_share_90d=scored.mobile_share_90d.mean(),
            mean_current_value=scored.current_value.mean(),
            mean_potential_value=scored.potential_value.mean(),
        )
        .mutate(share=lambda t: t.customers.cast("float64") / t.customers.sum().over().cast("float64"))
        .order_by("segment")
    )
