"""BG/NBD model of repeat purchasing (Fader, Hardie and Lee 2005).

While active, a customer buys at Poisson rate ``lambda``; after every purchase
they become inactive with probability ``p``. Across customers ``lambda`` follows
Gamma(r, alpha) (``alpha`` a rate, in weeks when time is in weeks) and ``p`` follows
Beta(a, b). A customer is summarised by ``frequency`` (repeat purchases, x),
``recency`` (age at the last purchase, t_x) and ``T`` (age now), all ages
measured from the first purchase.

Source: P. S. Fader, B. G. S. Hardie and K. L. Lee, "Counting your customers the
easy way: an alternative to the Pareto/NBD model", Marketing Science 24(2), 2005,
equations (6), (10) and (13).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy.special import betaln, digamma, exprel, gammaln, hyp2f1

from omnichannel.predictions.exceptions import (
    InsufficientHistory,
    InvalidSummaryInput,
    ScoringFailed,
)
from omnichannel.predictions.optimise import (
    FitResult,
    FloatArray,
    maximise_log_likelihood,
)

PARAM_NAMES = ("r", "alpha", "a", "b")

# The expected-purchases formula divides by (a - 1). At a == 1 the singularity is
# removable, so a is moved this far away from 1 in the term that needs it, which
# changes results by a relative amount of about the same size.
_A_NEAR_ONE = 1e-7
# The same for c = a + b + x - 1 near 0 (only possible with x = 0 and a + b near 1).
_C_NEAR_ZERO = 1e-6
# Evaluate distinct (x, T) pairs only when there are at most this share of them.
_DISTINCT_SHARE = 0.5
# At most this many customers per call fall back to numerical integration.
_MAX_INTEGRATED_ROWS = 10_000


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted population parameters of the BG/NBD model."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> BGNBDParams:
        missing = [name for name in PARAM_NAMES if name not in values]
        if missing:
            raise InvalidSummaryInput(
                f"BG/NBD parameters are missing {', '.join(missing)}; "
                f"expected keys {', '.join(PARAM_NAMES)}."
            )
        params = cls(**{name: float(values[name]) for name in PARAM_NAMES})
        if not all(np.isfinite(v) and v > 0 for v in params.as_dict().values()):
            raise InvalidSummaryInput(
                f"BG/NBD parameters must be positive finite numbers, got {values!r}."
            )
        return params


def check_summary(
    frequency: FloatArray, recency: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return the arrays as float64 after checking they describe real customers."""
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    age = np.asarray(T, dtype=np.float64)
    if not (x.shape == t_x.shape == age.shape):
        raise InvalidSummaryInput(
            f"frequency, recency and T must have the same shape, got {x.shape}, "
            f"{t_x.shape} and {age.shape}."
        )
    problems = (
        (~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(age), "is not finite"),
        ((x < 0) | (x != np.floor(x)), "frequency is not a whole number >= 0"),
        (t_x < 0, "recency is negative"),
        (t_x > age * (1 + 1e-9) + 1e-9, "recency is greater than T"),
        ((x == 0) & (t_x != 0), "recency is not 0 although frequency is 0"),
    )
    for mask, description in problems:
        if mask.any():
            index = int(np.flatnonzero(mask)[0])
            raise InvalidSummaryInput(
                f"Customer at position {index}: {description} "
                f"(frequency={x.flat[index]!r}, recency={t_x.flat[index]!r}, "
                f"T={age.flat[index]!r})."
            )
    return x, t_x, age


def log_likelihood(
    params: BGNBDParams, frequency: FloatArray, recency: FloatArray, T: FloatArray
) -> FloatArray:
    """Return each customer's log-likelihood under ``params``."""
    x, t_x, age = check_summary(frequency, recency, T)
    return _log_likelihood_and_gradient(
        np.log(list(params.as_dict().values())), x, t_x, age, None, gradient=False
    )[0]


def fit(
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
    *,
    penalizer: float = 0.0,
    initial: BGNBDParams | None = None,
    min_customers: int = 1,
    min_repeat_customers: int = 1,
) -> FitResult:
    """Fit the model by maximum likelihood.

    Raises ``InsufficientHistory`` with fewer than ``min_customers`` customers or
    fewer than ``min_repeat_customers`` customers with a repeat purchase, because the
    dropout parameters cannot be estimated without repeat purchases. The returned
    result reports whether the optimiser converged; the caller decides what to do with
    a result that did not.
    """
    x, t_x, age = check_summary(frequency, recency, T)
    n_customers = int(x.size)
    n_repeat = int(np.count_nonzero(x))
    if n_customers < max(min_customers, 1):
        raise InsufficientHistory(
            f"BG/NBD needs at least {max(min_customers, 1)} customers, got "
            f"{n_customers}."
        )
    if n_repeat < max(min_repeat_customers, 1):
        raise InsufficientHistory(
            f"BG/NBD needs at least {max(min_repeat_customers, 1)} customers with a "
            f"repeat purchase, got {n_repeat}."
        )

    # Customers with equal (x, t_x, T) contribute equal terms: fit on the distinct
    # rows with their counts as weights.
    rows, counts = np.unique(
        np.column_stack((x.ravel(), t_x.ravel(), age.ravel())),
        axis=0,
        return_counts=True,
    )
    ux, ut_x, uage = rows[:, 0], rows[:, 1], rows[:, 2]
    weights = counts.astype(np.float64)

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        values, gradient = _log_likelihood_and_gradient(
            log_params, ux, ut_x, uage, weights, gradient=True
        )
        return float(values @ weights), gradient

    return maximise_log_likelihood(
        objective,
        PARAM_NAMES,
        n_customers=n_customers,
        total_weight=float(weights.sum()),
        initial=None if initial is None else np.array(list(initial.as_dict().values())),
        penalizer=penalizer,
    )


def _log_likelihood_and_gradient(
    log_params: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    weights: FloatArray | None,
    *,
    gradient: bool,
) -> tuple[FloatArray, FloatArray]:
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    # x - 1 is only used where x > 0; elsewhere any positive value keeps the
    # special functions quiet.
    x_minus_one = np.where(repeat, x - 1.0, 1.0)

    base = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    log_alpha_T = np.log(alpha + age)
    log_alpha_tx = np.log(alpha + t_x)
    no_more = betaln(a, b + x) - betaln(a, b) - (r + x) * log_alpha_T
    dropped = betaln(a + 1.0, b + x_minus_one) - betaln(a, b) - (r + x) * log_alpha_tx
    dropped = np.where(repeat, dropped, -np.inf)
    mixture = np.logaddexp(no_more, dropped)
    values = base + mixture
    if not gradient:
        return values, np.zeros(4)

    # Share of each customer's likelihood from "still active" vs "dropped out
    # after the last purchase"; the gradient is the share-weighted sum.
    w_no_more = np.exp(no_more - mixture)
    w_dropped = 1.0 - w_no_more
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + x)
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w_no_more * log_alpha_T
        - w_dropped * log_alpha_tx
    )
    d_alpha = (
        r / alpha
        - w_no_more * (r + x) / (alpha + age)
        - w_dropped * (r + x) / (alpha + t_x)
    )
    d_a = psi_ab - psi_abx + w_dropped / a
    d_b = (
        w_no_more * (digamma(b + x) - digamma(b))
        + w_dropped * (digamma(b + x_minus_one) - digamma(b))
        + psi_ab
        - psi_abx
    )
    weight = np.ones_like(x) if weights is None else weights
    grad = np.array(
        [
            r * float(d_r @ weight),
            alpha * float(d_alpha @ weight),
            a * float(d_a @ weight),
            b * float(d_b @ weight),
        ]
    )
    return values, grad


def probability_alive(
    params: BGNBDParams, frequency: FloatArray, recency: FloatArray, T: FloatArray
) -> FloatArray:
    """Return P(still active at T | x, t_x, T) for each customer.

    Customers without a repeat purchase get exactly 1: in BG/NBD a customer can only
    drop out right after a purchase.
    """
    x, t_x, age = as_score_arrays(frequency, recency, T)
    return 1.0 / (1.0 + _odds_dropped(params, x, t_x, age))


def _odds_dropped(
    params: BGNBDParams, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> FloatArray:
    """Return P(dropped) / P(active) per customer, 0 without a repeat purchase."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    denominator = np.where(repeat, b + x - 1.0, 1.0)
    log_odds = (
        np.log(a)
        - np.log(denominator)
        + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
    )
    # Cap the exponent: odds above e**700 mean "certainly dropped" either way.
    return np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0)


def expected_purchases(
    params: BGNBDParams,
    t: float,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Return E[purchases in (T, T + t] | x, t_x, T] for each customer (t in weeks)."""
    x, t_x, age = as_score_arrays(frequency, recency, T)
    if t < 0:
        raise InvalidSummaryInput(f"The horizon t must be >= 0 weeks, got {t!r}.")
    if t == 0:
        return np.zeros_like(x)
    (if_active,) = expected_purchases_if_active_at(params, [t], x, age)
    return if_active / (1.0 + _odds_dropped(params, x, t_x, age))


def expected_purchases_if_active(
    params: BGNBDParams, t: float | FloatArray, x: FloatArray, age: FloatArray
) -> FloatArray:
    """Return E[purchases in (T, T + t] | active at T, x, T].

    Equation (10) of Fader, Hardie and Lee (2005) is
    c / (a - 1) * (1 - (1 - z)^(r+x) 2F1(r+x, b+x; c; z)) with c = a + b + x - 1,
    u = t / (alpha + T) and z = u / (1 + u). Euler's transformation turns the
    hypergeometric term into (1 + u)^(1-a) G with G = 2F1(a-1, a+b-1-r; c; z), whose
    first two parameters do not grow with x; evaluated that way scipy's hyp2f1
    stays accurate for customers with hundreds of purchases, where the textbook form
    overflows. The (a - 1) division is split so that a = 1 needs no special case in
    the larger term. Rows whose result is not finite or lies outside
    0..(r + x) * u (the expectation without dropout) are integrated numerically.
    """
    weeks = np.asarray(t, dtype=np.float64)
    x, age, weeks = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64), np.asarray(age, dtype=np.float64), weeks
    )
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    u = weeks / (alpha + age)
    z = u / (1.0 + u)
    c = a + b + x - 1.0
    log_growth = np.log1p(u)

    # c / (a - 1) * (1 - (1 + u)^(1 - a)), exact at a = 1 through exprel.
    first = c * log_growth * exprel((1.0 - a) * log_growth)

    # c * (1 - G) / (a - 1): G - 1 is proportional to a - 1 and G has a pole at
    # c = 0, so both are moved a hair away from the removable singularities.
    a_shifted = a if abs(a - 1.0) >= _A_NEAR_ONE else 1.0 + _A_NEAR_ONE
    c_shifted = np.where(np.abs(c) >= _C_NEAR_ZERO, c, _C_NEAR_ZERO)
    with np.errstate(all="ignore"):
        g = hyp2f1(a_shifted - 1.0, a + b - 1.0 - r, c_shifted, z)
        second = (
            np.exp((1.0 - a) * log_growth) * c_shifted * (1.0 - g) / (a_shifted - 1.0)
        )
        expected = first + second

    upper = (r + x) * u
    bad = ~np.isfinite(expected) | (expected < 0) | (expected > upper * (1 + 1e-9))
    if bad.any():
        expected = np.array(expected, copy=True)
        expected[bad] = _integrate_if_active(params, weeks[bad], x[bad], age[bad])
    return expected


def expected_purchases_if_active_at(
    params: BGNBDParams,
    horizons: list[float],
    x: FloatArray,
    age: FloatArray,
) -> list[FloatArray]:
    """Return ``expected_purchases_if_active`` for several horizons (in weeks).

    The expectation depends on a customer only through (x, T). Summaries built from
    orders measure T in whole days, so a large customer base has far fewer distinct
    pairs than customers; each distinct pair is evaluated once per horizon.
    """
    x = np.asarray(x, dtype=np.float64)
    age = np.asarray(age, dtype=np.float64)
    pairs, inverse = np.unique(x + 1j * age, return_inverse=True)
    if pairs.size > _DISTINCT_SHARE * x.size:
        return [expected_purchases_if_active(params, t, x, age) for t in horizons]
    inverse = inverse.reshape(x.shape)
    return [
        expected_purchases_if_active(params, t, pairs.real, pairs.imag)[inverse]
        for t in horizons
    ]


def _integrate_if_active(
    params: BGNBDParams, weeks: FloatArray, x: FloatArray, age: FloatArray
) -> FloatArray:
    """Integrate E[(1 - ((alpha+T) / (alpha+T+p t))^(r+x)) / p] over p ~ Beta(a, b+x).

    The fallback for rows where the closed form fails; it costs about a millisecond
    a row.
    """
    if weeks.size > _MAX_INTEGRATED_ROWS:
        raise ScoringFailed(
            f"The closed form for expected purchases failed on {weeks.size} "
            f"customers (more than {_MAX_INTEGRATED_ROWS}) with parameters "
            f"{params.as_dict()}; refit the model or check the summaries."
        )
    results = np.empty(weeks.size)
    for index, (horizon, repeat, current_age) in enumerate(
        zip(weeks.tolist(), x.tolist(), age.tolist(), strict=True)
    ):
        shape = params.r + repeat
        u = horizon / (params.alpha + current_age)
        beta = params.b + repeat
        log_norm = betaln(params.a, beta)

        def integrand(
            p: float, shape=shape, u=u, beta=beta, log_norm=log_norm
        ) -> float:
            survive = -np.expm1(-shape * np.log1p(p * u)) / p
            density = (params.a - 1) * np.log(p) + (beta - 1) * np.log1p(-p) - log_norm
            return float(survive * np.exp(density))

        mean = params.a / (params.a + beta)
        breaks = [mean / 10, mean, min(0.999, 10 * mean)]
        results[index] = integrate.quad(
            integrand, 0.0, 1.0, points=breaks, limit=500, epsrel=1e-10
        )[0]
    return results


def probability_any_purchase(
    params: BGNBDParams,
    t: float,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Return P(at least one purchase in (T, T + t] | x, t_x, T) (t in weeks).

    An active customer stays active until their next purchase, and given activity
    their rate is Gamma(r + x, alpha + T), so
    P(none) = P(dropped) + P(active) * ((alpha + T) / (alpha + T + t)) ** (r + x).
    """
    x, t_x, age = as_score_arrays(frequency, recency, T)
    if t < 0:
        raise InvalidSummaryInput(f"The horizon t must be >= 0 weeks, got {t!r}.")
    alive = 1.0 / (1.0 + _odds_dropped(params, x, t_x, age))
    log_none_if_active = (params.r + x) * (
        np.log(params.alpha + age) - np.log(params.alpha + age + t)
    )
    return alive * -np.expm1(log_none_if_active)


def expected_purchases_new_customer(params: BGNBDParams, t: FloatArray) -> FloatArray:
    """Return E[repeat purchases in the first t weeks] for a new customer.

    Equation (6) of Fader, Hardie and Lee (2005), with the same transformation as
    the conditional expectation.
    """
    weeks = np.asarray(t, dtype=np.float64)
    zeros = np.zeros_like(weeks)
    return expected_purchases_if_active(params, weeks, zeros, zeros)


def as_score_arrays(
    frequency: FloatArray, recency: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Broadcast the arrays to float64 without the full input checks.

    Scoring runs on arrays built by this package, so it skips ``check_summary``'s
    error reports but still repairs what could produce NaN or a probability above 1:
    missing or infinite values become 0, negative values 0, and recency is clipped
    into [0, T].
    """
    x = np.nan_to_num(np.asarray(frequency, dtype=np.float64), nan=0.0, posinf=0.0)
    age = np.nan_to_num(np.asarray(T, dtype=np.float64), nan=0.0, posinf=0.0)
    age = np.maximum(age, 0.0)
    t_x = np.nan_to_num(np.asarray(recency, dtype=np.float64), nan=0.0, posinf=0.0)
    t_x = np.clip(t_x, 0.0, age)
    return np.maximum(x, 0.0), t_x, age
