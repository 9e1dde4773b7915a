"""Maximum likelihood fitting shared by the BG/NBD and Gamma-Gamma models."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import optimize
from threadpoolctl import threadpool_limits

FloatArray = npt.NDArray[np.float64]

# Parameters are fitted as logarithms and kept inside exp(-LOG_BOUND)..exp(LOG_BOUND).
# A fit that ends on this bound has a parameter running off to zero or infinity,
# which is reported as not converged.
LOG_BOUND = 12.0

# Largest gradient norm (of the mean log-likelihood per customer, in log-parameter
# space) accepted as a maximum.
GRADIENT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class FitResult:
    """A fitted model: parameters, total log-likelihood and convergence report."""

    params: dict[str, float]
    log_likelihood: float
    converged: bool
    message: str
    n_customers: int
    iterations: int
    gradient_norm: float = field(default=math.nan)


def maximise_log_likelihood(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    names: tuple[str, ...],
    *,
    n_customers: int,
    total_weight: float,
    initial: FloatArray | None = None,
    penalizer: float = 0.0,
    max_iterations: int = 500,
) -> FitResult:
    """Maximise a log-likelihood over log-parameters with L-BFGS-B.

    ``objective`` maps log-parameters to the total log-likelihood and its gradient
    with respect to the log-parameters. ``penalizer`` adds
    ``penalizer * sum(log_params ** 2)`` to the mean negative log-likelihood, which
    pulls every parameter toward 1 on small or degenerate data.
    """
    start = np.zeros(len(names)) if initial is None else np.log(initial)
    scale = 1.0 / max(total_weight, 1.0)

    def negative(log_params: FloatArray) -> tuple[float, FloatArray]:
        value, gradient = objective(log_params)
        penalty = penalizer * float(log_params @ log_params)
        return (
            -value * scale + penalty,
            -gradient * scale + 2.0 * penalizer * log_params,
        )

    # With three or four parameters, BLAS threads only add hand-off cost; on a busy
    # two-core machine they made the CDNOW fit about twice as slow.
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        result = optimize.minimize(
            negative,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * len(names),
            options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-9},
        )
        log_likelihood, gradient = objective(result.x)

    params = {
        name: float(math.exp(value))
        for name, value in zip(names, result.x, strict=True)
    }
    gradient_norm = float(np.linalg.norm(gradient * scale - 2 * penalizer * result.x))
    converged, message = _judge(result, names, log_likelihood, gradient_norm)
    return FitResult(
        params=params,
        log_likelihood=float(log_likelihood),
        converged=converged,
        message=message,
        n_customers=n_customers,
        iterations=int(result.nit),
        gradient_norm=gradient_norm,
    )


def _judge(
    result: optimize.OptimizeResult,
    names: tuple[str, ...],
    log_likelihood: float,
    gradient_norm: float,
) -> tuple[bool, str]:
    if not np.isfinite(result.x).all() or not math.isfinite(log_likelihood):
        return False, "The log-likelihood is not finite at the optimiser's result."
    on_bound = [
        name
        for name, value in zip(names, result.x, strict=True)
        if abs(value) >= LOG_BOUND - 1e-6
    ]
    if on_bound:
        return False, (
            f"Parameter {', '.join(on_bound)} ran to the edge of the search range "
            f"(exp(+-{LOG_BOUND:g})); the data do not identify it."
        )
    if not math.isfinite(gradient_norm) or gradient_norm > GRADIENT_TOLERANCE:
        return False, (
            f"The optimiser stopped with gradient norm {gradient_norm:.3g} "
            f"({result.message})."
        )
    return True, str(result.message)
