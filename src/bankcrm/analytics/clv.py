"""Customer lifetime value: BG/NBD and Gamma-Gamma maximum-likelihood fits, retention and potential value.

Notation follows Fader, Hardie & Lee (2005): for each customer `frequency` x is the number of
repeat purchases, `recency` t_x the time of the last purchase and `T` the age of the customer,
both measured from the first purchase in one time unit (the unit the model is fitted in).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# log-parameters are kept inside exp(±20) so a runaway start cannot overflow the likelihood
_LOG_BOUND = 20.0
# hyp2f1 closed forms divide by (a − 1); closer than this to 1 the limit is taken numerically
_A_NEAR_ONE = 1e-6


class CLVFitError(ValueError):
    """The data cannot identify the model (no rows, no repeat purchases, invalid values)."""


def _as_float(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _check_rfm(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> None:
    if not (frequency.shape == recency.shape == T.shape) or frequency.ndim != 1:
        raise CLVFitError("frequency, recency and T must be one-dimensional arrays of the same length")
    if not (np.isfinite(frequency).all() and np.isfinite(recency).all() and np.isfinite(T).all()):
        raise CLVFitError("frequency, recency and T must be finite")
    if (frequency < 0).any() or (recency < 0).any() or (T < 0).any():
        raise CLVFitError("frequency, recency and T must not be negative")
    if (frequency != np.round(frequency)).any():
        raise CLVFitError("frequency must be a whole number of repeat purchases")
    if (recency > T).any():
        raise CLVFitError("recency must not exceed T")


def _compress(*columns: FloatArray, weights: FloatArray) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical rows into one weighted row: day-grain data repeats a lot, so fits run on far fewer rows."""
    if columns[0].size == 0:
        return list(columns), weights
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new_group = np.zeros(order.size, dtype=bool)
    new_group[0] = True
    for c in ordered:
        new_group[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new_group)
    summed = np.add.reduceat(weights[order], starts)
    keep = summed > 0
    return [c[starts][keep] for c in ordered], summed[keep]


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run the optimiser with one BLAS thread."""
    # L-BFGS-B's tiny matrix products gain nothing from threads, and on a busy machine
    # OpenBLAS's spinning workers made each optimiser step some 25 times slower
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover - the limit is an optimisation only
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _minimise(
    neg_ll: Callable[[FloatArray], tuple[float, FloatArray]], starts: list[FloatArray]
) -> tuple[FloatArray, float, bool]:
    """Best L-BFGS-B optimum over several starts in log-parameter space, with the analytic gradient."""
    best_x: FloatArray | None = None
    best_f = np.inf
    best_ok = False
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    # the default stopping rule (relative change 2e-9) halts early on flat ridges such as
    # Gamma-Gamma's q-gamma trade-off; a near machine-precision tolerance reaches the published decimals
    tight = {"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-10}
    # every start gets a short run; only the best is taken to full precision, which keeps
    # nightly fits over millions of customers to a few passes over the data
    for start in starts:
        res = minimize(neg_ll, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 50})
        f = float(res.fun)
        if np.isfinite(f) and f < best_f:
            best_x, best_f = np.asarray(res.x, dtype=np.float64), f
    if best_x is None:
        raise CLVFitError("the likelihood could not be evaluated at any starting point")
    res = minimize(neg_ll, best_x, jac=True, method="L-BFGS-B", bounds=bounds, options=tight)
    if np.isfinite(res.fun) and float(res.fun) <= best_f:
        best_x, best_f, best_ok = np.asarray(res.x, dtype=np.float64), float(res.fun), bool(res.success)
    at_bound = bool((np.abs(best_x) >= _LOG_BOUND - 1e-6).any())
    return best_x, best_f, best_ok and not at_bound


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BGNBDRows:
    """Fitting data with the distinct frequencies factored out: the special functions depend on
    x alone, and x takes few distinct values, so they are evaluated once per value, not per row."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    w: FloatArray
    x_values: FloatArray
    x_index: npt.NDArray[np.intp]
    w_per_x: FloatArray

    @classmethod
    def build(cls, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> _BGNBDRows:
        x_values, x_index = np.unique(x, return_inverse=True)
        w_per_x = np.asarray(np.bincount(x_index, weights=w, minlength=x_values.size), dtype=np.float64)
        return cls(x, t_x, T, w, x_values, x_index.ravel(), w_per_x)


def _bgnbd_neg_ll_and_grad(log_params: FloatArray, rows: _BGNBDRows) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood and its gradient with respect to the log-parameters.

    Per customer ln L = ln A1 + ln A2 + ln(A3 + A4) (FHL 2005 eq. 6) with
    ln A1 + ln A2 = lnΓ(r+x) − lnΓ(r) + r ln α + ln B(a, b+x) − ln B(a, b),
    ln A3 = −(r+x) ln(α+T) and, for x > 0, ln A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x);
    the last two are combined with logaddexp so that neither underflows.
    """
    params = np.exp(log_params)
    r, alpha, a, b = params
    x, t_x, big_t, w = rows.x, rows.t_x, rows.T, rows.w
    xv, wv = rows.x_values, rows.w_per_x
    total_w = w.sum()

    log_a12 = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xv) - betaln(a, b)
    repeat_v = xv > 0
    log_b_x_1 = np.log(np.where(repeat_v, b + xv - 1.0, 1.0))[rows.x_index]
    log_alpha_t = np.log(alpha + big_t)
    log_alpha_tx = np.log(alpha + t_x)
    log_a3 = -(r + x) * log_alpha_t
    with np.errstate(invalid="ignore"):
        log_a4 = np.where(x > 0, np.log(a) - log_b_x_1 - (r + x) * log_alpha_tx, -np.inf)
    lse = np.logaddexp(log_a3, log_a4)
    value = -(float(np.sum(wv * log_a12)) + float(np.sum(w * lse))) / total_w
    if not np.isfinite(value):
        return np.inf, np.zeros(4)

    # softmax shares of the A3 and A4 terms in A3 + A4
    s3 = np.exp(log_a3 - lse)
    s4 = np.exp(log_a4 - lse)
    ws4 = w * s4
    d_r = float(np.sum(wv * (digamma(r + xv) - digamma(r) + np.log(alpha)))) - float(
        np.sum(w * (s3 * log_alpha_t + s4 * log_alpha_tx))
    )
    d_alpha = r / alpha * total_w - float(np.sum(w * (r + x) * (s3 / (alpha + big_t) + s4 / (alpha + t_x))))
    d_a = float(np.sum(wv * (digamma(a + b) - digamma(a + b + xv)))) + float(ws4.sum()) / a
    d_b = float(np.sum(wv * (digamma(b + xv) - digamma(a + b + xv) - digamma(b) + digamma(a + b)))) - float(
        np.sum(ws4 * np.exp(-log_b_x_1))
    )
    grad = np.array([d_r, d_alpha, d_a, d_b]) * params
    return value, -grad / total_w


def bgnbd_log_likelihood(
    params: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> float:
    """Total BG/NBD log-likelihood at params (r, alpha, a, b)."""
    x, t_x, big_t = _as_float(frequency), _as_float(recency), _as_float(T)
    w = np.ones_like(x) if weights is None else _as_float(weights)
    rows = _BGNBDRows.build(x, np.where(x > 0, t_x, 0.0), big_t, w)
    value, _ = _bgnbd_neg_ll_and_grad(np.log(_as_float(params)), rows)
    return -value * float(w.sum())


@dataclass(frozen=True)
class BGNBDFit:
    """Fitted BG/NBD model: purchase rate λ ~ Gamma(r, alpha), dropout probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n: int
    converged: bool

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive at T | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)); 1 when x = 0.

        Evaluated as a logistic of the log-odds so that large frequencies cannot overflow.
        """
        x, t_x, big_t = np.broadcast_arrays(_as_float(frequency), _as_float(recency), _as_float(T))
        repeat = x > 0
        b_x_1 = np.where(repeat, self.b + x - 1.0, 1.0)
        log_odds_dead = (
            np.log(self.a) - np.log(b_x_1) + (self.r + x) * (np.log(self.alpha + big_t) - np.log(self.alpha + t_x))
        )
        return np.where(repeat, expit(-log_odds_dead), 1.0)

    def _expected_while_alive(self, t: FloatArray, x: FloatArray, big_t: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T, x] = E_p[(1 − (1 + p·t/(α+T))^−(r+x)) / p], p ~ Beta(a, b+x).

        The closed form is (a+b+x−1)/(a−1) · [1 − (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z)] with
        z = t/(α+T+t). It is FHL's eq. 10 numerator after Euler's transformation of their
        2F1(r+x, b+x; a+b+x−1; z), which keeps the hypergeometric parameters bounded as x grows.
        """

        def closed_form(a: float) -> FloatArray:
            z = t / (self.alpha + big_t + t)
            c = a + self.b + x - 1.0
            with np.errstate(invalid="ignore", over="ignore"):
                f = hyp2f1(a + self.b - 1.0 - self.r, a - 1.0, c, z)
                value = c / (a - 1.0) * (1.0 - np.exp((a - 1.0) * np.log1p(-z)) * f)
            return np.asarray(value, dtype=np.float64)

        if abs(self.a - 1.0) < _A_NEAR_ONE:
            # removable singularity at a = 1: average the two sides
            value = 0.5 * (closed_form(1.0 - _A_NEAR_ONE) + closed_form(1.0 + _A_NEAR_ONE))
        else:
            value = closed_form(self.a)
        bad = ~np.isfinite(value)
        if bad.any():
            # hyp2f1 gives up when a and b are huge (data with almost no dropout); p's posterior is
            # then concentrated at its mean, so the integrand evaluated there is the limit
            p_hat = self.a / (self.a + self.b + x)
            s = self.r + x
            plug_in = -np.expm1(-s * np.log1p(p_hat * t / (self.alpha + big_t))) / p_hat
            value = np.where(bad, plug_in, value)
        return value

    def expected_purchases(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next t periods (FHL 2005 eq. 10)."""
        tt, x, t_x, big_t = np.broadcast_arrays(_as_float(t), _as_float(frequency), _as_float(recency), _as_float(T))
        return self.p_alive(x, t_x, big_t) * self._expected_while_alive(tt, x, big_t)

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected purchases by a new customer in their first t periods (FHL 2005 eq. 9)."""
        tt = _as_float(t)
        zeros = np.zeros_like(tt)
        return self._expected_while_alive(tt, zeros, zeros)

    def p_alive_after(self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive at T + t | x, t_x, T) = P(alive at T | data) · 2F1(r+x, a; a+b+x; −t/(α+T)).

        While alive, a customer buys at rate λ and drops out with probability p after each purchase,
        so dropouts arrive at rate λp and P(still alive after t | alive now, λ, p) = exp(−λpt).
        Given alive at T the posterior is λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x), independent, and
        E[exp(−λpt)] = E_p[(1 + p·t/(α+T))^−(r+x)] = 2F1(r+x, a; a+b+x; −u), u = t/(α+T).
        Pfaff's transformation, (1+u)^−a · 2F1(a, a+b−r; a+b+x; u/(1+u)), keeps the argument in [0, 1).
        """
        tt, x, t_x, big_t = np.broadcast_arrays(_as_float(t), _as_float(frequency), _as_float(recency), _as_float(T))
        u = tt / (self.alpha + big_t)
        with np.errstate(invalid="ignore", over="ignore"):
            survive = np.exp(-self.a * np.log1p(u)) * hyp2f1(
                self.a, self.a + self.b - self.r, self.a + self.b + x, u / (1.0 + u)
            )
        bad = ~np.isfinite(survive)
        if bad.any():
            # same limit as in _expected_while_alive: p concentrated at its posterior mean
            p_hat = self.a / (self.a + self.b + x)
            survive = np.where(bad, np.exp(-(self.r + x) * np.log1p(p_hat * u)), survive)
        return np.asarray(np.clip(self.p_alive(x, t_x, big_t) * survive, 0.0, 1.0), dtype=np.float64)


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, weights: ArrayLike | None = None) -> BGNBDFit:
    """Maximum-likelihood BG/NBD fit; `weights` counts how many customers each row stands for."""
    x, t_x, big_t = _as_float(frequency), _as_float(recency), _as_float(T)
    _check_rfm(x, t_x, big_t)
    w = np.ones_like(x) if weights is None else _as_float(weights)
    if w.shape != x.shape or not np.isfinite(w).all() or (w < 0).any():
        raise CLVFitError("weights must be finite, non-negative and one per customer")
    # recency carries no information when x = 0; zero it so identical customers collapse together
    t_x = np.where(x > 0, t_x, 0.0)
    (x, t_x, big_t), w = _compress(x, t_x, big_t, weights=w)
    if w.sum() <= 0:
        raise CLVFitError("no customers to fit")
    if not (x > 0).any():
        raise CLVFitError("no customer has a repeat purchase, so the dropout process cannot be estimated")

    rows = _BGNBDRows.build(x, t_x, big_t, w)

    def neg_ll(z: FloatArray) -> tuple[float, FloatArray]:
        return _bgnbd_neg_ll_and_grad(z, rows)

    mean_rate = float(np.sum(w * x) / np.sum(w * np.maximum(big_t, 1e-9)))
    starts = [
        np.log([1.0, 1.0 / max(mean_rate, 1e-6), 1.0, 1.0]),
        np.zeros(4),
        np.log([0.5, 5.0, 0.5, 2.0]),
        np.log([2.0, 20.0, 2.0, 5.0]),
    ]
    with _single_threaded_blas():
        log_params, neg_mean_ll, ok = _minimise(neg_ll, starts)
    r, alpha, a, b = (float(v) for v in np.exp(log_params))
    return BGNBDFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=-neg_mean_ll * float(w.sum()),
        n=round(float(w.sum())),
        converged=ok,
    )


def retention_one_year(
    fit: BGNBDFit, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, periods_per_year: float
) -> FloatArray:
    """One-year retention r: the probability the customer is still alive one year after T.

    r = P(alive at T + one year | x, t_x, T) — today's `p_alive` projected one year ahead with the
    fitted dropout process (see `BGNBDFit.p_alive_after`). `periods_per_year` converts a year into
    the model's time unit (365 for day-grain data, 52 for weeks). Values lie in [0, p_alive].
    """
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    return fit.p_alive_after(periods_per_year, frequency, recency, T)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


def _gg_neg_ll_and_grad(
    log_params: FloatArray, x: FloatArray, m: FloatArray, w: FloatArray
) -> tuple[float, FloatArray]:
    params = np.exp(log_params)
    p, q, g = params
    px = p * x
    log_g_xm = np.log(g + x * m)
    log_xm = np.log(x * m)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * log_xm
        + np.log(x)
        - (px + q) * log_g_xm
    )
    total_w = w.sum()
    value = -float(np.sum(w * ll)) / total_w
    if not np.isfinite(value):
        return np.inf, np.zeros(3)
    d_p = x * (digamma(px + q) - digamma(px) + log_xm - log_g_xm)
    d_q = digamma(px + q) - digamma(q) + np.log(g) - log_g_xm
    d_g = q / g - (px + q) / (g + x * m)
    grad = np.array([np.sum(w * d) for d in (d_p, d_q, d_g)]) * params
    return value, -grad / total_w


def gamma_gamma_log_likelihood(params: ArrayLike, frequency: ArrayLike, monetary_value: ArrayLike) -> float:
    """Total Gamma-Gamma log-likelihood of the average spends at params (p, q, gamma); frequency > 0 rows only."""
    x, m = _as_float(frequency), _as_float(monetary_value)
    keep = x > 0
    value, _ = _gg_neg_ll_and_grad(np.log(_as_float(params)), x[keep], m[keep], np.ones(int(keep.sum())))
    return -value * float(keep.sum())


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma spend model: each spend ~ Gamma(p, ν), ν ~ Gamma(q, gamma) across customers."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n: int
    converged: bool

    @property
    def mean_spend(self) -> float:
        """Population mean spend per transaction, pγ/(q−1) (infinite when q ≤ 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")

    def conditional_expected_average_profit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """E[Z | x, z̄] = p(γ + x·z̄) / (px + q − 1): the population mean shrunk towards the customer's own mean.

        Customers with no repeat purchases get the population mean pγ/(q − 1).
        """
        x, m = np.broadcast_arrays(_as_float(frequency), _as_float(monetary_value))
        repeat = x > 0
        x_safe = np.where(repeat, x, 0.0)
        m_safe = np.where(repeat, m, 0.0)
        return np.asarray(self.p * (self.gamma + x_safe * m_safe) / (self.p * x_safe + self.q - 1.0), dtype=np.float64)


def fit_gamma_gamma(frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on the customers with frequency > 0 (FHL 2005, "RFM and CLV")."""
    x, m = _as_float(frequency), _as_float(monetary_value)
    if x.shape != m.shape or x.ndim != 1:
        raise CLVFitError("frequency and monetary_value must be one-dimensional arrays of the same length")
    keep = x > 0
    x, m = x[keep], m[keep]
    if x.size == 0:
        raise CLVFitError("no customer has a repeat purchase, so average spend cannot be modelled")
    if not (np.isfinite(m).all() and (m > 0).all()):
        raise CLVFitError("monetary_value must be positive for every customer with frequency > 0")
    (x, m), w = _compress(x, m, weights=np.ones_like(x))

    def neg_ll(z: FloatArray) -> tuple[float, FloatArray]:
        return _gg_neg_ll_and_grad(z, x, m, w)

    mean_m = float(np.sum(w * m) / w.sum())
    starts = [np.log([1.0, 2.0, mean_m]), np.log([2.0, 4.0, mean_m]), np.zeros(3), np.log([5.0, 5.0, 10.0])]
    with _single_threaded_blas():
        log_params, neg_mean_ll, ok = _minimise(neg_ll, starts)
    p, q, g = (float(v) for v in np.exp(log_params))
    return GammaGammaFit(
        p=p, q=q, gamma=g, log_likelihood=-neg_mean_ll * float(w.sum()), n=round(float(w.sum())), converged=ok
    )


# --------------------------------------------------------------------------------------------
# Potential value
# --------------------------------------------------------------------------------------------


def potential_value(
    current_value: ArrayLike, retention: ArrayLike, *, years: int = 5, discount: float = 0.08
) -> FloatArray:
    """Σ_{t=1..years} current_value · r^t / (1 + discount)^t (SPEC 4.7), elementwise."""
    if years < 0:
        raise ValueError("years must not be negative")
    if discount <= -1.0:
        raise ValueError("discount must be greater than -1")
    current, r = np.broadcast_arrays(_as_float(current_value), _as_float(retention))
    ratio = r / (1.0 + discount)
    powers = ratio[..., np.newaxis] ** np.arange(1, years + 1, dtype=np.float64)
    return np.asarray(current * powers.sum(axis=-1), dtype=np.float64)
