"""Statistics of A/B tests, in plain numpy and scipy (no Django).

Every function compares a variant with the control: a positive difference means the
variant is ahead. Bad input raises ``ValueError`` (an ``InsufficientData`` when the
counts are valid but too few to compute the statistic).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import integrate, special
from scipy import stats as scipy_stats

from omnichannel.exceptions import InsufficientData

Alternative = Literal["two-sided", "larger", "smaller"]
ALTERNATIVES = ("two-sided", "larger", "smaller")
# Above this many terms the exact Beta sum is replaced by numerical integration.
MAX_EXACT_TERMS = 2_000_000


@dataclass(frozen=True)
class ProportionTest:
    """Result of a two-proportion z-test of variant against control."""

    control_rate: float
    variant_rate: float
    difference: float
    relative_lift: float | None
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float


@dataclass(frozen=True)
class MeanTest:
    """Result of Welch's t-test of the variant's mean against the control's."""

    control_mean: float
    variant_mean: float
    difference: float
    relative_lift: float | None
    t: float
    degrees_of_freedom: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float


@dataclass(frozen=True)
class SampleSummary:
    """Size, mean and sample variance (``ddof=1``) of one group's values."""

    n: int
    mean: float
    variance: float

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> SampleSummary:
        array = np.asarray(values, dtype=float)
        if array.ndim != 1:
            raise ValueError("values must be a one-dimensional sequence of numbers.")
        if not np.all(np.isfinite(array)):
            raise ValueError("values must be finite numbers (no NaN or infinity).")
        variance = float(array.var(ddof=1)) if array.size > 1 else 0.0
        mean = float(array.mean()) if array.size else 0.0
        return cls(n=int(array.size), mean=mean, variance=variance)

    @classmethod
    def from_sums(cls, n: int, total: float, total_of_squares: float) -> SampleSummary:
        """Build the summary from n, the sum and the sum of squares, as SQL gives."""
        if n < 0:
            raise ValueError(f"n must not be negative, got {n}.")
        if n == 0:
            return cls(n=0, mean=0.0, variance=0.0)
        mean = total / n
        if n == 1:
            return cls(n=1, mean=mean, variance=0.0)
        variance = max((total_of_squares - n * mean * mean) / (n - 1), 0.0)
        return cls(n=n, mean=mean, variance=variance)


def _check_counts(name: str, successes: int, trials: int) -> None:
    for label, value in ((f"{name}_successes", successes), (f"{name}_trials", trials)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{label} must be an integer, got {value!r}.")
    if trials <= 0:
        raise InsufficientData(
            f"{name}_trials must be at least 1, got {trials}; the group is empty."
        )
    if not 0 <= successes <= trials:
        raise ValueError(
            f"{name}_successes must be between 0 and {name}_trials ({trials}), "
            f"got {successes}."
        )


def _check_probability(name: str, value: float, *, low: float = 0.0) -> None:
    if not (isinstance(value, int | float) and low < value < 1):
        raise ValueError(f"{name} must be a number between {low} and 1, got {value!r}.")


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(
            f"alternative must be one of {', '.join(ALTERNATIVES)}, "
            f"got {alternative!r}."
        )


def _p_value(
    statistic: float, alternative: str, survival: Callable[[float], float]
) -> float:
    # ``survival`` is the null distribution's survival function, 1 - CDF.
    if alternative == "larger":
        return float(survival(statistic))
    if alternative == "smaller":
        return float(survival(-statistic))
    return float(min(1.0, 2 * survival(abs(statistic))))


def _relative(difference: float, base: float) -> float | None:
    return difference / base if base else None


def two_proportion_ztest(
    control_successes: int,
    control_trials: int,
    variant_successes: int,
    variant_trials: int,
    *,
    alternative: Alternative = "two-sided",
    confidence: float = 0.95,
) -> ProportionTest:
    """Test whether the variant's rate differs from the control's.

    The z statistic uses the pooled standard error (the null hypothesis assumes equal
    rates); the confidence interval of the difference uses the unpooled
    one. ``alternative="larger"`` tests variant > control. When both groups have only
    successes or only failures there is no evidence of a difference: z is 0 and the
    p-value 1.
    """
    _check_counts("control", control_successes, control_trials)
    _check_counts("variant", variant_successes, variant_trials)
    _check_alternative(alternative)
    _check_probability("confidence", confidence)

    n1, n2 = int(control_trials), int(variant_trials)
    p1, p2 = control_successes / n1, variant_successes / n2
    difference = p2 - p1
    pooled = (control_successes + variant_successes) / (n1 + n2)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if pooled_se == 0:
        z, p_value = 0.0, 1.0
    else:
        z = difference / pooled_se
        p_value = _p_value(z, alternative, scipy_stats.norm.sf)

    unpooled_se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    margin = float(scipy_stats.norm.ppf(0.5 + confidence / 2)) * unpooled_se
    return ProportionTest(
        control_rate=p1,
        variant_rate=p2,
        difference=difference,
        relative_lift=_relative(difference, p1),
        z=z,
        p_value=p_value,
        ci_low=difference - margin,
        ci_high=difference + margin,
        confidence=confidence,
    )


def probability_to_beat_control(
    control_successes: int,
    control_trials: int,
    variant_successes: int,
    variant_trials: int,
    *,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
) -> float:
    """Return P(variant rate > control rate) under independent Beta posteriors.

    Each rate gets a Beta(prior_alpha, prior_beta) prior (uniform by default) and a
    binomial likelihood. With a whole-number variant alpha the probability is the
    exact finite sum over Beta functions; otherwise it is integrated numerically.
    Neither draws random numbers, so the result is the same on every call.
    """
    _check_counts("control", control_successes, control_trials)
    _check_counts("variant", variant_successes, variant_trials)
    for name, value in (("prior_alpha", prior_alpha), ("prior_beta", prior_beta)):
        if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive number, got {value!r}.")

    a_c = prior_alpha + control_successes
    b_c = prior_beta + control_trials - control_successes
    a_v = prior_alpha + variant_successes
    b_v = prior_beta + variant_trials - variant_successes
    if float(a_v).is_integer() and a_v <= MAX_EXACT_TERMS:
        probability = _beta_superiority_exact(a_c, b_c, int(a_v), b_v)
    else:
        probability = _beta_superiority_integrated(a_c, b_c, a_v, b_v)
    return float(min(1.0, max(0.0, probability)))


def _beta_superiority_exact(a_c: float, b_c: float, a_v: int, b_v: float) -> float:
    # P(X_v > X_c) for X_v ~ Beta(a_v, b_v), X_c ~ Beta(a_c, b_c), summed in log
    # space so that large counts do not overflow the Beta functions.
    i = np.arange(a_v, dtype=float)
    log_terms = (
        special.betaln(a_c + i, b_c + b_v)
        - np.log(b_v + i)
        - special.betaln(1 + i, b_v)
        - special.betaln(a_c, b_c)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def _beta_superiority_integrated(
    a_c: float, b_c: float, a_v: float, b_v: float
) -> float:
    # Integrate pdf_v(x) * cdf_c(x) over the range where the variant's density is
    # not negligible, with the two means as break points for the quadrature.
    low = scipy_stats.beta.ppf(1e-12, a_v, b_v)
    high = scipy_stats.beta.ppf(1 - 1e-12, a_v, b_v)
    points = [x for x in (a_v / (a_v + b_v), a_c / (a_c + b_c)) if low < x < high]
    value, _ = integrate.quad(
        lambda x: scipy_stats.beta.pdf(x, a_v, b_v) * scipy_stats.beta.cdf(x, a_c, b_c),
        low,
        high,
        points=points or None,
        limit=200,
        epsabs=1e-10,
    )
    # Mass of the variant above the integration range beats every control value.
    return float(value + 1e-12)


def revenue_per_recipient_test(
    control: Sequence[float] | np.ndarray | SampleSummary,
    variant: Sequence[float] | np.ndarray | SampleSummary,
    *,
    alternative: Alternative = "two-sided",
    confidence: float = 0.95,
) -> MeanTest:
    """Compare revenue per recipient with Welch's t-test (unequal variances).

    Each group is either the revenue of every recipient (zeros included) or a
    :class:`SampleSummary`. Each group needs at least two recipients. When both
    groups have zero variance the p-value is 1 for equal means and 0 otherwise.
    """
    _check_alternative(alternative)
    _check_probability("confidence", confidence)
    a = control if isinstance(control, SampleSummary) else SampleSummary.of(control)
    b = variant if isinstance(variant, SampleSummary) else SampleSummary.of(variant)
    for name, summary in (("control", a), ("variant", b)):
        if summary.n < 2:
            raise InsufficientData(
                f"The {name} group has {summary.n} recipients; Welch's t-test needs "
                "at least 2 in each group."
            )

    difference = b.mean - a.mean
    se_a, se_b = a.variance / a.n, b.variance / b.n
    se = math.sqrt(se_a + se_b)
    if se == 0:
        # Both groups are constant: the difference is either nothing or certain.
        df = float(a.n + b.n - 2)
        margin = 0.0
        if difference == 0:
            t, p_value = 0.0, 1.0
        else:
            t = math.copysign(math.inf, difference)
            p_value = _p_value(t, alternative, lambda x: 0.0 if x > 0 else 1.0)
    else:
        df = (se_a + se_b) ** 2 / (se_a**2 / (a.n - 1) + se_b**2 / (b.n - 1))
        t = difference / se
        p_value = _p_value(t, alternative, lambda x: scipy_stats.t.sf(x, df))
        margin = float(scipy_stats.t.ppf(0.5 + confidence / 2, df)) * se
    return MeanTest(
        control_mean=a.mean,
        variant_mean=b.mean,
        difference=difference,
        relative_lift=_relative(difference, a.mean),
        t=t,
        degrees_of_freedom=df,
        p_value=p_value,
        ci_low=difference - margin,
        ci_high=difference + margin,
        confidence=confidence,
    )


def _z_values(alpha: float, power: float, alternative: str) -> tuple[float, float]:
    _check_probability("alpha", alpha)
    _check_probability("power", power)
    _check_alternative(alternative)
    tail = alpha / 2 if alternative == "two-sided" else alpha
    return scipy_stats.norm.isf(tail), scipy_stats.norm.ppf(power)


def sample_size_for_lift(
    baseline_rate: float,
    relative_lift: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> int:
    """Return the recipients needed in each group to detect a relative lift in a rate.

    The normal approximation of the two-proportion z-test, with the pooled rate
    under the null hypothesis and the two rates under the alternative. For example
    a 10% baseline and a lift of 0.1 (to 11%) need 14,751 per group at alpha 0.05,
    power 0.8, two-sided.
    """
    _check_probability("baseline_rate", baseline_rate)
    if not isinstance(relative_lift, int | float) or relative_lift == 0:
        raise ValueError(
            f"relative_lift must be a non-zero number such as 0.1 for +10%, got "
            f"{relative_lift!r}."
        )
    p1 = float(baseline_rate)
    p2 = p1 * (1 + relative_lift)
    if not 0 < p2 < 1:
        raise ValueError(
            f"A baseline of {p1} with a relative lift of {relative_lift} gives a rate "
            f"of {p2}, outside (0, 1); choose a smaller lift."
        )
    z_alpha, z_power = _z_values(alpha, power, alternative)
    pooled = (p1 + p2) / 2
    numerator = z_alpha * math.sqrt(2 * pooled * (1 - pooled)) + z_power * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(numerator**2 / (p2 - p1) ** 2)


def sample_size_for_mean_lift(
    baseline_mean: float,
    standard_deviation: float,
    relative_lift: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> int:
    """Return the recipients needed per group to detect a relative lift in a mean,
    such as revenue per recipient, by the normal approximation."""
    if not (isinstance(baseline_mean, int | float) and baseline_mean > 0):
        raise ValueError(f"baseline_mean must be positive, got {baseline_mean!r}.")
    if not (isinstance(standard_deviation, int | float) and standard_deviation > 0):
        raise ValueError(
            f"standard_deviation must be positive, got {standard_deviation!r}."
        )
    if not isinstance(relative_lift, int | float) or relative_lift == 0:
        raise ValueError(f"relative_lift must be non-zero, got {relative_lift!r}.")
    z_alpha, z_power = _z_values(alpha, power, alternative)
    delta = baseline_mean * relative_lift
    return math.ceil(2 * ((z_alpha + z_power) * standard_deviation / delta) ** 2)


def sample_ratio_mismatch(observed: Sequence[int], weights: Sequence[float]) -> float:
    """Return the chi-square p-value that the arm sizes match their weights.

    A tiny p-value (below 0.001, say) means assignment or logging is broken, and the
    experiment's results should not be trusted.
    """
    counts = np.asarray(observed, dtype=float)
    shares = np.asarray(weights, dtype=float)
    if counts.ndim != 1 or counts.shape != shares.shape or counts.size < 2:
        raise ValueError(
            "observed and weights must be sequences of the same length, at least 2."
        )
    if np.any(counts < 0) or np.any(shares <= 0):
        raise ValueError("observed must be >= 0 and every weight > 0.")
    total = counts.sum()
    if total == 0:
        raise InsufficientData("No profiles are assigned yet.")
    expected = total * shares / shares.sum()
    return float(scipy_stats.chisquare(counts, expected).pvalue)
