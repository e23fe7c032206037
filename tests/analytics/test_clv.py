"""BG/NBD and Gamma-Gamma: the published CDNOW fits, closed forms against direct integration, and simulation."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import approx_fprime
from scipy.special import beta as beta_fn

from bankcrm.analytics import clv
from bankcrm.analytics.clv import (
    BGNBDFit,
    CLVFitError,
    GammaGammaFit,
    bgnbd_log_likelihood,
    fit_bgnbd,
    fit_gamma_gamma,
    potential_value,
    retention_one_year,
)

DATA = Path(__file__).resolve().parents[1] / "data"

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW sample
PUBLISHED = BGNBDFit(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, n=2357, converged=True)


def _columns(name: str) -> dict[str, np.ndarray]:
    table = np.genfromtxt(DATA / name, delimiter=",", names=True)
    assert table.dtype.names is not None
    return {column: np.asarray(table[column], dtype=np.float64) for column in table.dtype.names}


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    return _columns("cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_spend() -> dict[str, np.ndarray]:
    return _columns("cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def bgnbd(cdnow: dict[str, np.ndarray]) -> BGNBDFit:
    return fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def _purchases_while_alive(s: float, u: float) -> Callable[[float], float]:
    """p ↦ (1 − (1 + p·u)^−s) / p, the expected purchases before dropout given p; s·u at p = 0."""

    def g(p: float) -> float:
        return s * u if p == 0 else -math.expm1(-s * math.log1p(p * u)) / p

    return g


def _beta_mean(g: Callable[[float], float], a: float, b: float) -> float:
    """E[g(p)] for p ~ Beta(a, b) by adaptive quadrature with the algebraic end-point weight."""
    value, _ = quad(g, 0.0, 1.0, weight="alg", wvar=(a - 1.0, b - 1.0), epsabs=1e-12, epsrel=1e-10, limit=200)
    return float(value / beta_fn(a, b))


# ---------------------------------------------------------------------------- BG/NBD fit


def test_bgnbd_reproduces_published_cdnow_fit(bgnbd: BGNBDFit) -> None:
    assert bgnbd.n == 2357
    assert bgnbd.converged
    assert round(bgnbd.r, 3) == PUBLISHED.r
    assert round(bgnbd.alpha, 3) == PUBLISHED.alpha
    assert round(bgnbd.a, 3) == PUBLISHED.a
    assert round(bgnbd.b, 3) == PUBLISHED.b
    assert round(bgnbd.log_likelihood, 1) == PUBLISHED.log_likelihood


def test_log_likelihood_matches_formula_for_one_customer() -> None:
    """FHL eq. 6 written out by hand for x = 2, t_x = 30.43, T = 38.86 at the published parameters."""
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    x, t_x, big_t = 2, 30.43, 38.86
    a1 = math.gamma(r + x) * alpha**r / math.gamma(r)
    a2 = math.gamma(a + b) * math.gamma(b + x) / (math.gamma(b) * math.gamma(a + b + x))
    a3 = (1 / (alpha + big_t)) ** (r + x)
    a4 = (a / (b + x - 1)) * (1 / (alpha + t_x)) ** (r + x)
    expected = math.log(a1 * a2 * (a3 + a4))
    assert bgnbd_log_likelihood([r, alpha, a, b], [x], [t_x], [big_t]) == pytest.approx(expected, rel=1e-12)
    # x = 0: A1 = α^r, A2 = 1 and A4 is absent
    expected0 = r * math.log(alpha) - r * math.log(alpha + big_t)
    assert bgnbd_log_likelihood([r, alpha, a, b], [0], [0], [big_t]) == pytest.approx(expected0, rel=1e-12)


def test_analytic_gradient_matches_finite_differences(cdnow: dict[str, np.ndarray]) -> None:
    x, t_x, big_t = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    w = np.ones_like(x)
    z = np.log([0.3, 5.0, 0.6, 2.0])
    rows = clv._BGNBDRows.build(x, np.where(x > 0, t_x, 0.0), big_t, w)
    _, grad = clv._bgnbd_neg_ll_and_grad(z, rows)
    numeric = approx_fprime(z, lambda v: clv._bgnbd_neg_ll_and_grad(v, rows)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_weights_count_customers(cdnow: dict[str, np.ndarray], bgnbd: BGNBDFit) -> None:
    doubled = fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"], weights=np.full(2357, 2.0))
    assert doubled.n == 2 * 2357
    assert doubled.r == pytest.approx(bgnbd.r, rel=1e-5)
    assert doubled.b == pytest.approx(bgnbd.b, rel=1e-5)
    assert doubled.log_likelihood == pytest.approx(2 * bgnbd.log_likelihood, rel=1e-9)


def test_fit_refuses_data_that_cannot_identify_the_model() -> None:
    with pytest.raises(CLVFitError, match="repeat purchase"):
        fit_bgnbd([0, 0, 0], [0, 0, 0], [10, 20, 30])
    with pytest.raises(CLVFitError, match="recency"):
        fit_bgnbd([1, 2], [12, 5], [10, 20])
    with pytest.raises(CLVFitError, match="negative"):
        fit_bgnbd([-1, 2], [0, 5], [10, 20])
    with pytest.raises(CLVFitError, match="whole number"):
        fit_bgnbd([1.5, 2], [3, 5], [10, 20])


# ---------------------------------------------------------------------------- p_alive


def test_p_alive_is_one_without_repeat_purchases() -> None:
    np.testing.assert_array_equal(PUBLISHED.p_alive([0, 0, 0], [0, 0, 0], [1, 38.86, 1000]), [1.0, 1.0, 1.0])


def test_p_alive_by_hand() -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    expected = 1 / (1 + a / (b + 2 - 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    assert float(PUBLISHED.p_alive(2, 30.43, 38.86)) == pytest.approx(expected, rel=1e-12)


def test_p_alive_rises_with_recency_and_falls_with_age() -> None:
    recency = np.linspace(1, 38.86, 50)
    by_recency = PUBLISHED.p_alive(5, recency, 38.86)
    assert (np.diff(by_recency) > 0).all()
    age = np.linspace(20, 200, 50)
    by_age = PUBLISHED.p_alive(5, 20, age)
    assert (np.diff(by_age) < 0).all()
    assert ((by_recency > 0) & (by_recency <= 1)).all()


def test_p_alive_survives_huge_frequencies() -> None:
    p = PUBLISHED.p_alive([5000, 5000], [10, 38.86], [38.86, 38.86])
    assert np.isfinite(p).all()
    assert p[0] == pytest.approx(0.0, abs=1e-300)
    assert p[1] == pytest.approx(1 / (1 + 0.793 / (2.426 + 4999)))


# ---------------------------------------------------------------------------- expected purchases


def test_expected_purchases_matches_the_paper() -> None:
    """FHL (2005) section 5: this customer is expected to make 1.226 purchases in the next 39 weeks."""
    assert float(PUBLISHED.expected_purchases(39, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=5e-4)


@pytest.mark.parametrize(
    ("x", "t_x", "big_t", "t"), [(0, 0, 38.86, 39), (2, 30.43, 38.86, 39), (7, 35, 38.86, 52), (60, 38, 38.86, 10)]
)
def test_expected_purchases_equals_the_integral_it_stands_for(x: int, t_x: float, big_t: float, t: float) -> None:
    """E[Y(t) | data] = P(alive) · E_p[(1 − (1 + p·t/(α+T))^−(r+x)) / p], p ~ Beta(a, b+x)."""
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    u = t / (alpha + big_t)
    while_alive = _beta_mean(_purchases_while_alive(r + x, u), a, b + x)
    expected = float(PUBLISHED.p_alive(x, t_x, big_t)) * while_alive
    assert float(PUBLISHED.expected_purchases(t, x, t_x, big_t)) == pytest.approx(expected, rel=1e-7)


def test_expected_purchases_new_against_integral_and_near_a_equal_one() -> None:
    for fit in (PUBLISHED, BGNBDFit(r=0.5, alpha=3.0, a=1.0, b=2.0, log_likelihood=0.0, n=1, converged=True)):
        for t in (1.0, 39.0, 78.0):
            expected = _beta_mean(_purchases_while_alive(fit.r, t / fit.alpha), fit.a, fit.b)
            assert float(fit.expected_purchases_new(t)) == pytest.approx(expected, rel=1e-6)


def test_expected_purchases_in_the_no_dropout_limit_is_finite() -> None:
    """Huge a and b (data without dropout) defeat hyp2f1; the result falls back to p at its posterior mean."""
    fit = BGNBDFit(r=0.3, alpha=4.0, a=1e7, b=1e9, log_likelihood=0.0, n=1, converged=False)
    x, t = 3.0, 52.0
    value = float(fit.expected_purchases(t, x, 30.0, 38.86))
    p_hat = fit.a / (fit.a + fit.b + x)
    limit = float(fit.p_alive(x, 30.0, 38.86)) * (1 - (1 + p_hat * t / (fit.alpha + 38.86)) ** -(fit.r + x)) / p_hat
    assert value == pytest.approx(limit, rel=1e-3)
    assert 0 < float(fit.p_alive_after(t, x, 30.0, 38.86)) <= 1


# ---------------------------------------------------------------------------- retention


def test_p_alive_after_equals_its_integral_and_starts_at_p_alive() -> None:
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    x, t_x, big_t, t = 4, 20.0, 38.86, 52.0
    u = t / (alpha + big_t)
    survive = _beta_mean(lambda p: (1 + p * u) ** -(r + x), a, b + x)
    expected = float(PUBLISHED.p_alive(x, t_x, big_t)) * survive
    assert float(PUBLISHED.p_alive_after(t, x, t_x, big_t)) == pytest.approx(expected, rel=1e-8)
    assert float(PUBLISHED.p_alive_after(0.0, x, t_x, big_t)) == pytest.approx(float(PUBLISHED.p_alive(x, t_x, big_t)))


def test_retention_bounds_and_monotonicity() -> None:
    x = np.array([0, 1, 2, 5, 10, 40], dtype=float)
    t_x = np.minimum(x * 3.0, 38.0)
    big_t = np.full_like(x, 38.86)
    ret = retention_one_year(PUBLISHED, x, t_x, big_t, periods_per_year=52)
    assert ((ret >= 0) & (ret <= 1)).all()
    assert (ret <= PUBLISHED.p_alive(x, t_x, big_t) + 1e-15).all()
    # a more recent last purchase means a better chance of still being a customer next year
    by_recency = retention_one_year(PUBLISHED, 5, np.linspace(1, 38.86, 40), 38.86, periods_per_year=52)
    assert (np.diff(by_recency) > 0).all()
    # the further ahead, the lower
    by_horizon = PUBLISHED.p_alive_after(np.array([0, 13, 26, 52, 104, 520.0]), 5, 30, 38.86)
    assert (np.diff(by_horizon) < 0).all()
    with pytest.raises(ValueError):
        retention_one_year(PUBLISHED, 1, 1, 2, periods_per_year=0)


def _simulate(
    fit: BGNBDFit, n: int, horizon: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Purchases in (0, T] and in (T, T+t], and survival to T+t, of n customers drawn from the BG/NBD model."""
    lam = rng.gamma(fit.r, 1 / fit.alpha, n)
    p = rng.beta(fit.a, fit.b, n)
    big_t = 38.86
    now = np.zeros(n)
    before = np.zeros(n, dtype=int)
    after = np.zeros(n, dtype=int)
    alive = np.ones(n, dtype=bool)
    active = np.ones(n, dtype=bool)  # alive and not yet past T + t
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1 / lam[idx])
        past = now[idx] > big_t + horizon
        active[idx[past]] = False
        buy = idx[~past]
        before[buy] += now[buy] <= big_t
        after[buy] += now[buy] > big_t
        dies = rng.random(buy.size) < p[buy]
        alive[buy[dies]] = False
        active[buy[dies]] = False
    return before, after, alive


def test_retention_and_expected_purchases_agree_with_simulation() -> None:
    """For customers with no purchase by T the formulas match a simulation of the model itself."""
    rng = np.random.default_rng(20050101)
    before, after, alive = _simulate(PUBLISHED, 200_000, 52.0, rng)
    quiet = before == 0
    assert float(PUBLISHED.p_alive_after(52.0, 0, 0, 38.86)) == pytest.approx(alive[quiet].mean(), abs=0.005)
    assert float(PUBLISHED.expected_purchases(52.0, 0, 0, 38.86)) == pytest.approx(after[quiet].mean(), abs=0.01)
    assert float(PUBLISHED.expected_purchases_new(38.86)) == pytest.approx(before.mean(), abs=0.02)


def test_fit_recovers_the_parameters_of_simulated_day_grain_data() -> None:
    """20,000 customers drawn from known parameters, ages up to two years in days, as the nightly run fits them."""
    rng = np.random.default_rng(7)
    truth = BGNBDFit(r=0.5, alpha=20.0, a=1.2, b=3.0, log_likelihood=0.0, n=20_000, converged=True)
    n = truth.n
    lam = rng.gamma(truth.r, 1 / truth.alpha, n)
    p = rng.beta(truth.a, truth.b, n)
    big_t = rng.uniform(30, 720, n)
    now, x, t_x = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1 / lam[idx])
        past = now[idx] > big_t[idx]
        active[idx[past]] = False
        buy = idx[~past]
        x[buy] += 1
        t_x[buy] = now[buy]
        active[buy[rng.random(buy.size) < p[buy]]] = False
    fit = fit_bgnbd(x, t_x, big_t)
    assert fit.converged
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit, name) == pytest.approx(getattr(truth, name), rel=0.1), name


# ---------------------------------------------------------------------------- Gamma-Gamma


def test_gamma_gamma_reproduces_published_cdnow_fit(cdnow_spend: dict[str, np.ndarray]) -> None:
    fit = fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    assert fit.n == 946
    assert fit.converged
    # FHL (2005, "RFM and CLV") report p = 6.25, q = 3.74, γ = 15.44. The maximum of the
    # likelihood on this file (spends rounded to cents) is γ = 15.4478, found also by a plain
    # Nelder-Mead search; the published figure is within a hundredth of it.
    assert fit.p == pytest.approx(6.25, abs=0.01)
    assert fit.q == pytest.approx(3.74, abs=0.01)
    assert fit.gamma == pytest.approx(15.44, abs=0.01)
    assert fit.log_likelihood == pytest.approx(
        clv.gamma_gamma_log_likelihood([fit.p, fit.q, fit.gamma], cdnow_spend["x"], cdnow_spend["zbar"])
    )


def test_conditional_expected_average_profit_by_hand() -> None:
    fit = GammaGammaFit(p=6.25, q=3.74, gamma=15.44, log_likelihood=0.0, n=1, converged=True)
    # shrinkage: p(γ + x·z̄) / (px + q − 1)
    assert float(fit.conditional_expected_average_profit(2, 22.35)) == pytest.approx(
        6.25 * (15.44 + 2 * 22.35) / (6.25 * 2 + 3.74 - 1)
    )
    # no repeat purchases: the population mean pγ/(q − 1)
    assert float(fit.conditional_expected_average_profit(0, 0)) == pytest.approx(6.25 * 15.44 / 2.74)
    assert fit.mean_spend == pytest.approx(6.25 * 15.44 / 2.74)
    # many purchases: close to the customer's own average
    assert float(fit.conditional_expected_average_profit(10_000, 50.0)) == pytest.approx(50.0, rel=1e-3)


def test_gamma_gamma_refuses_non_positive_spend() -> None:
    with pytest.raises(CLVFitError, match="positive"):
        fit_gamma_gamma([1, 2], [10.0, 0.0])
    with pytest.raises(CLVFitError, match="repeat purchase"):
        fit_gamma_gamma([0, 0], [0.0, 0.0])


# ---------------------------------------------------------------------------- potential value


def test_potential_value_by_hand() -> None:
    # r/(1.08) = 0.9/1.08 = 5/6; Σ_{t=1..5} (5/6)^t = 5 · (1 − (5/6)^5) = 5 · 4651/7776 = 23255/7776
    values = potential_value(np.array([1000.0, 1000.0, -200.0]), np.array([0.9, 0.0, 0.9]))
    np.testing.assert_allclose(values, [1000 * 23255 / 7776, 0.0, -200 * 23255 / 7776], rtol=1e-12)
    # no discount and certain retention: five years of the current value
    assert float(potential_value(100.0, 1.0, discount=0.0)) == pytest.approx(500.0)
    assert float(potential_value(100.0, 0.5, years=2, discount=0.0)) == pytest.approx(75.0)
    assert float(potential_value(100.0, 0.5, years=0)) == 0.0
