"""AHP weights: textbook matrices checked against an independent power iteration, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from bankcrm.analytics.ahp import RANDOM_INDEX, AHPError, ahp_weights

# Saaty's classic three-criterion example
SAATY_3 = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]


def _power_iteration(matrix: list[list[float]]) -> tuple[np.ndarray, float]:
    """Principal eigenvector (sum 1) and eigenvalue by repeated multiplication: no eigen-solver involved."""
    a = np.asarray(matrix, dtype=float)
    w = np.full(a.shape[0], 1 / a.shape[0])
    for _ in range(1000):
        w = a @ w
        w /= w.sum()
    lam = float(np.mean((a @ w) / w))
    return w, lam


def test_saaty_three_by_three() -> None:
    result = ahp_weights(SAATY_3)
    w, lam = _power_iteration(SAATY_3)
    np.testing.assert_allclose(result.weights, w, rtol=1e-10)
    assert result.lambda_max == pytest.approx(lam, rel=1e-10)
    assert result.ci == pytest.approx((lam - 3) / 2, rel=1e-8)
    assert result.cr == pytest.approx((lam - 3) / 2 / 0.58, rel=1e-8)
    # the rounded figures quoted in textbooks
    np.testing.assert_allclose(result.weights, [0.637, 0.258, 0.105], atol=5e-4)
    assert result.lambda_max == pytest.approx(3.039, abs=5e-4)
    assert result.cr == pytest.approx(0.033, abs=5e-4)
    assert result.weights.sum() == pytest.approx(1.0)


def test_consistent_matrix_gives_back_its_weights() -> None:
    # the value-index current-value weights of SPEC 4.6, as ratios
    target = np.array([0.45, 0.30, 0.15, 0.10])
    matrix = (target[:, None] / target[None, :]).tolist()
    result = ahp_weights(matrix)
    np.testing.assert_allclose(result.weights, target, rtol=1e-12)
    assert result.lambda_max == pytest.approx(4.0)
    assert result.ci == pytest.approx(0.0, abs=1e-12)
    assert result.cr == pytest.approx(0.0, abs=1e-12)


def test_two_by_two_is_always_consistent() -> None:
    result = ahp_weights([[1, 9], [1 / 9, 1]])
    np.testing.assert_allclose(result.weights, [0.9, 0.1])
    assert result.cr == 0.0
    assert ahp_weights([[1]]).weights.tolist() == [1.0]


def test_rounded_reciprocals_are_accepted() -> None:
    result = ahp_weights([[1, 3, 5], [0.33, 1, 3], [0.2, 0.33, 1]])
    np.testing.assert_allclose(result.weights, ahp_weights(SAATY_3).weights, atol=2e-3)
    # 1/8 typed as 0.13: 8 × 0.13 = 1.04 is still read as a reciprocal
    assert ahp_weights([[1, 8], [0.13, 1]]).weights[0] == pytest.approx(0.887, abs=1e-3)


def test_inconsistent_matrix_is_refused_with_its_ratio() -> None:
    # A > B, B > C but C > A: a circular judgement
    matrix = [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]
    _, lam = _power_iteration([[1.0, 9.0, 1 / 9], [1 / 9, 1.0, 9.0], [9.0, 1 / 9, 1.0]])
    cr = (lam - 3) / 2 / RANDOM_INDEX[2]
    with pytest.raises(AHPError, match=rf"consistency ratio {cr:.3f}"):
        ahp_weights(matrix)


def test_a_ratio_just_above_the_limit_is_refused() -> None:
    # a textbook 4×4 example whose ratio is about 0.145
    matrix = [[1, 5, 6, 7], [1 / 5, 1, 4, 6], [1 / 6, 1 / 4, 1, 4], [1 / 7, 1 / 6, 1 / 4, 1]]
    _, lam = _power_iteration(matrix)
    cr = (lam - 4) / 3 / 0.90
    assert cr > 0.10
    with pytest.raises(AHPError, match=rf"{cr:.3f} ≥ 0.10"):
        ahp_weights(matrix)
    assert ahp_weights(matrix, max_cr=0.2).cr == pytest.approx(cr, rel=1e-8)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 3], [0.5, 1]], r"row 1, column 2: not reciprocal"),
        ([[1, 2, 4], [0.5, 1, 2], [0.25, 0.4, 1]], r"row 2, column 3: not reciprocal"),
        ([[1, 0], [0, 1]], r"row 1, column 2: comparisons must be positive"),
        ([[1, -2], [-0.5, 1]], r"row 1, column 2: comparisons must be positive"),
        ([[1, 2], [0.5, 3]], r"row 2, column 2: the diagonal must be 1"),
        ([[1, float("nan")], [1, 1]], r"row 1, column 2: comparisons must be positive"),
        ([[1, 2, 3], [0.5, 1, 2]], r"must be square"),
        ([[1, "x"], [1, 1]], r"numbers only"),
        (np.ones((16, 16)).tolist(), r"at most 15"),
    ],
)
def test_malformed_matrices_are_refused(matrix: list[list[float]], message: str) -> None:
    with pytest.raises(AHPError, match=message):
        ahp_weights(matrix)
