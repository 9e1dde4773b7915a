"""Empirical-Bayes estimates of how strongly to pull individuals toward the shop.

Both the send-time and the channel-affinity scores blend a customer's own counts
with the shop-wide pattern through a conjugate prior whose strength is a number of
pseudo-observations. The strength is estimated by maximising the marginal likelihood
of all customers' counts (Dirichlet-multinomial and beta-binomial), so a shop whose
customers differ a lot gets a weak prior and a shop whose customers behave alike
gets a strong one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize
from scipy.special import betaln, gammaln

from omnichannel.predictions.optimise import FloatArray

# Search range for the prior strength, in pseudo-observations.
MIN_STRENGTH = 0.5
MAX_STRENGTH = 10_000.0


def dirichlet_strength(
    customer_totals: FloatArray,
    cell_counts: FloatArray,
    cell_shares: FloatArray,
    *,
    default: float,
) -> float:
    """Return the Dirichlet concentration that maximises the marginal likelihood.

    ``customer_totals`` holds each customer's total count, ``cell_counts`` the
    non-zero counts of every (customer, category) cell and ``cell_shares`` the
    shop-wide share of that cell's category. Returns ``default`` when no customer
    has two or more observations, because one observation per customer says nothing
    about how customers differ from each other.
    """
    totals = np.asarray(customer_totals, dtype=np.float64)
    counts = np.asarray(cell_counts, dtype=np.float64)
    shares = np.asarray(cell_shares, dtype=np.float64)
    if not (totals >= 2).any():
        return float(default)

    def negative_marginal(log_strength: float) -> float:
        strength = math.exp(log_strength)
        per_customer = (
            math.lgamma(strength) * totals.size - gammaln(totals + strength).sum()
        )
        per_cell = (
            gammaln(counts + strength * shares) - gammaln(strength * shares)
        ).sum()
        return -float(per_customer + per_cell)

    return _maximise_strength(negative_marginal)


def beta_binomial_strength(
    trials: FloatArray, successes: FloatArray, mean: float, *, default: float
) -> float:
    """Return the beta prior strength (alpha + beta) for a known prior mean.

    Each customer contributes a beta-binomial marginal likelihood of ``successes``
    in ``trials``. Returns ``default`` when no customer has two or more trials or
    the mean is 0 or 1, where the strength is not identified.
    """
    n = np.asarray(trials, dtype=np.float64)
    k = np.asarray(successes, dtype=np.float64)
    informative = n >= 2
    if not informative.any() or not 0.0 < mean < 1.0:
        return float(default)
    n, k = n[informative], k[informative]

    def negative_marginal(log_strength: float) -> float:
        strength = math.exp(log_strength)
        a = strength * mean
        b = strength * (1.0 - mean)
        return -float((betaln(k + a, n - k + b) - betaln(a, b)).sum())

    return _maximise_strength(negative_marginal)


def _maximise_strength(negative_marginal: Callable[[float], float]) -> float:
    result = optimize.minimize_scalar(
        negative_marginal,
        bounds=(math.log(MIN_STRENGTH), math.log(MAX_STRENGTH)),
        method="bounded",
        options={"xatol": 1e-3},
    )
    if not math.isfinite(result.fun):
        return MAX_STRENGTH
    return float(math.exp(result.x))
