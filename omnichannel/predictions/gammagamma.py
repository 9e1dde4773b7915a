"""Gamma-Gamma model of spend per transaction.

Each transaction of a customer has value Gamma(p, nu); across customers ``nu``
follows Gamma(q, gamma). The model is fitted on customers with at least one repeat
transaction, using ``frequency`` (x, the number of repeat transactions) and
``monetary_value`` (m, their mean value). It assumes spend is independent of the
purchase process.

Source: P. S. Fader, B. G. S. Hardie and K. L. Lee, "RFM and CLV: using iso-value
curves for customer base analysis", Journal of Marketing Research 42(4), 2005,
following Colombo and Jiang (1999).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from omnichannel.predictions.exceptions import InsufficientHistory, InvalidSummaryInput
from omnichannel.predictions.optimise import (
    FitResult,
    FloatArray,
    maximise_log_likelihood,
)

PARAM_NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted population parameters of the Gamma-Gamma model."""

    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> GammaGammaParams:
        missing = [name for name in PARAM_NAMES if name not in values]
        if missing:
            raise InvalidSummaryInput(
                f"Gamma-Gamma parameters are missing {', '.join(missing)}; "
                f"expected keys {', '.join(PARAM_NAMES)}."
            )
        params = cls(**{name: float(values[name]) for name in PARAM_NAMES})
        if not all(np.isfinite(v) and v > 0 for v in params.as_dict().values()):
            raise InvalidSummaryInput(
                f"Gamma-Gamma parameters must be positive finite numbers, got "
                f"{values!r}."
            )
        return params

    @property
    def population_mean_spend(self) -> float:
        """Return E[spend per transaction] across customers, p * gamma / (q - 1)."""
        if self.q <= 1:
            raise InvalidSummaryInput(
                f"The mean spend is infinite when q <= 1 (q={self.q:.4g})."
            )
        return self.p * self.gamma / (self.q - 1.0)


def fitting_mask(
    frequency: FloatArray, monetary_value: FloatArray
) -> npt.NDArray[np.bool_]:
    """Return the customers the model can be fitted on.

    Those are customers with a repeat transaction and positive mean spend; a mean of
    0.00 (only free items) has zero density under a Gamma distribution.
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    return (x > 0) & (m > 0) & np.isfinite(m)


def log_likelihood(
    params: GammaGammaParams, frequency: FloatArray, monetary_value: FloatArray
) -> FloatArray:
    """Return each customer's log-likelihood (customers with x > 0 and m > 0)."""
    x, m = _check(frequency, monetary_value)
    log_params = np.log(list(params.as_dict().values()))
    return _log_likelihood_and_gradient(log_params, x, m, gradient=False)[0]


def fit(
    frequency: FloatArray,
    monetary_value: FloatArray,
    *,
    penalizer: float = 0.0,
    min_customers: int = 1,
) -> FitResult:
    """Fit the model by maximum likelihood on the customers ``fitting_mask`` selects.

    Raises ``InsufficientHistory`` when fewer than ``min_customers`` customers have
    a repeat transaction with positive spend. A fit with q <= 1 is reported as not
    converged, because the expected spend is then infinite.
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    if x.shape != m.shape:
        raise InvalidSummaryInput(
            f"frequency and monetary_value must have the same shape, got {x.shape} "
            f"and {m.shape}."
        )
    usable = fitting_mask(x, m)
    x, m = _check(x[usable], m[usable])
    if x.size < max(min_customers, 1):
        raise InsufficientHistory(
            f"Gamma-Gamma needs at least {max(min_customers, 1)} customers with a "
            f"repeat purchase of positive value, got {x.size}."
        )

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        values, gradient = _log_likelihood_and_gradient(log_params, x, m, gradient=True)
        return float(values.sum()), gradient

    result = maximise_log_likelihood(
        objective,
        PARAM_NAMES,
        n_customers=int(x.size),
        total_weight=float(x.size),
        penalizer=penalizer,
    )
    if result.converged and result.params["q"] <= 1.0:
        return FitResult(
            params=result.params,
            log_likelihood=result.log_likelihood,
            converged=False,
            message=(
                f"The fit has q = {result.params['q']:.4g} <= 1, so expected spend "
                f"is infinite; spend varies too much across customers for the "
                f"model."
            ),
            n_customers=result.n_customers,
            iterations=result.iterations,
            gradient_norm=result.gradient_norm,
        )
    return result


def _check(
    frequency: FloatArray, monetary_value: FloatArray
) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    bad = ~((x > 0) & (x == np.floor(x)) & np.isfinite(m) & (m > 0))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise InvalidSummaryInput(
            f"Customer at position {index}: Gamma-Gamma needs a whole frequency > 0 "
            f"and a finite monetary_value > 0, got frequency={x.flat[index]!r}, "
            f"monetary_value={m.flat[index]!r}."
        )
    return x, m


def _log_likelihood_and_gradient(
    log_params: FloatArray, x: FloatArray, m: FloatArray, *, gradient: bool
) -> tuple[FloatArray, FloatArray]:
    p, q, gamma = np.exp(log_params)
    px = p * x
    log_total = np.log(gamma + m * x)
    values = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_total
    )
    if not gradient:
        return values, np.zeros(3)

    psi_pxq = digamma(px + q)
    d_p = x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_total)
    d_q = psi_pxq - digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    grad = np.array([p * d_p.sum(), q * d_q.sum(), gamma * d_gamma.sum()])
    return values, grad


def expected_spend(
    params: GammaGammaParams, frequency: FloatArray, monetary_value: FloatArray
) -> FloatArray:
    """Return E[spend per future transaction | x, m] for each customer.

    The posterior mean (gamma + m x) p / (p x + q - 1): a weighted average of the
    population mean and the customer's own mean, weighted toward the customer as x
    grows. Customers without a repeat purchase get the population mean. A negative or
    non-finite m is treated as 0.
    """
    if params.q <= 1:
        raise InvalidSummaryInput(
            f"Expected spend is infinite when q <= 1 (q={params.q:.4g}); refit the "
            f"model on more data."
        )
    x = np.maximum(np.asarray(frequency, dtype=np.float64), 0.0)
    m = np.asarray(monetary_value, dtype=np.float64)
    m = np.where(np.isfinite(m) & (m > 0) & (x > 0), m, 0.0)
    return (params.gamma + m * x) * params.p / (params.p * x + params.q - 1.0)
