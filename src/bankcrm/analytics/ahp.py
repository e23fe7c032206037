"""Analytic Hierarchy Process: indicator weights from a pairwise-comparison matrix (Saaty)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Saaty's random consistency index for n = 1..15
# fmt: off
RANDOM_INDEX: tuple[float, ...] = (
    0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59,
)
# fmt: on
MAX_CONSISTENCY_RATIO = 0.10


class AHPError(ValueError):
    """The comparison matrix is malformed or too inconsistent to derive weights from."""


@dataclass(frozen=True)
class AHPResult:
    """Weights (summing to 1), principal eigenvalue, consistency index and consistency ratio."""

    weights: npt.NDArray[np.float64]
    lambda_max: float
    ci: float
    cr: float


def _validate(a: npt.NDArray[np.float64], tolerance: float) -> None:
    n = a.shape[0]
    for i in range(n):
        for j in range(n):
            v = a[i, j]
            cell = f"row {i + 1}, column {j + 1}"
            if not np.isfinite(v) or v <= 0:
                raise AHPError(f"{cell}: comparisons must be positive numbers, got {v!r}")
            if i == j and abs(v - 1.0) > tolerance:
                raise AHPError(f"{cell}: the diagonal must be 1, got {v:g}")
            if i < j and abs(v * a[j, i] - 1.0) > tolerance:
                raise AHPError(
                    f"{cell}: not reciprocal: a[{i + 1},{j + 1}] × a[{j + 1},{i + 1}] = {v:g} × {a[j, i]:g}"
                    f" = {v * a[j, i]:g}, expected 1"
                )


def ahp_weights(matrix: npt.ArrayLike, *, tolerance: float = 0.05, max_cr: float = MAX_CONSISTENCY_RATIO) -> AHPResult:
    """Weights from the principal eigenvector of a reciprocal comparison matrix; refuses CR ≥ max_cr.

    a[i, j] says how much more important indicator i is than j, so a[j, i] = 1 / a[i, j]
    (checked to `tolerance`, loose enough for reciprocals typed to two decimals, e.g. 0.13 for 1/8).
    CI = (λmax − n)/(n − 1) and CR = CI / RI(n) with Saaty's random index; matrices of order 1 or 2
    are always consistent.
    """
    try:
        a = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AHPError(f"the comparison matrix must contain numbers only ({exc})") from exc
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise AHPError(f"the comparison matrix must be square and non-empty, got shape {a.shape}")
    n = a.shape[0]
    if n > len(RANDOM_INDEX):
        raise AHPError(f"at most {len(RANDOM_INDEX)} indicators can be compared (no random index beyond), got {n}")
    _validate(a, tolerance)

    eigenvalues, eigenvectors = np.linalg.eig(a)
    k = int(np.argmax(eigenvalues.real))
    lambda_max = float(eigenvalues[k].real)
    vector = eigenvectors[:, k].real
    # the Perron vector of a positive matrix has one sign; dividing by the sum fixes it positive
    weights = np.asarray(vector / vector.sum(), dtype=np.float64)
    if n <= 2:
        ci = cr = 0.0
    else:
        # a consistent matrix has λmax = n exactly; rounding can put it a hair below
        ci = max((lambda_max - n) / (n - 1), 0.0)
        cr = ci / RANDOM_INDEX[n - 1]
    if cr >= max_cr:
        raise AHPError(
            f"the comparisons are too inconsistent: consistency ratio {cr:.3f} ≥ {max_cr:.2f}; revise the judgements"
        )
    return AHPResult(weights=weights, lambda_max=lambda_max, ci=ci, cr=cr)
