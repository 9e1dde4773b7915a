"""Best hour to send to each customer, from when they open and click.

Every engagement event falls into one of 168 hours of the week in the customer's
own time zone (0 is Monday 00:00-00:59, 167 is Sunday 23:00-23:59). A customer's
counts are combined with the shop-wide pattern through a Dirichlet prior: the
posterior mean for hour h is ``(c_h + k * pi_h) / (n + k)``, where ``c_h`` are the
customer's counts, ``n`` their total, ``pi`` the shop-wide shares and ``k`` the prior
strength in pseudo-events. A customer with a handful of opens therefore keeps close
to the shop's best hour, and one with many follows their own habit. ``k`` is
estimated from the data (see ``shrinkage``) unless given.

The shop-wide shares carry one pseudo-event per hour (add-one smoothing), so no hour
has probability zero.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnichannel.predictions.exceptions import InvalidSummaryInput
from omnichannel.predictions.optimise import FloatArray
from omnichannel.predictions.shrinkage import dirichlet_strength

HOURS_PER_DAY = 24
HOURS_PER_WEEK = 7 * HOURS_PER_DAY

# Prior strength, in pseudo-events, used when no customer has two or more events.
DEFAULT_PRIOR_STRENGTH = 24.0

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SendTimeScores:
    """Best send hours per customer, in the order of ``customer_ids``.

    ``events`` is the customer's (weighted) number of engagement events and
    ``confidence`` the posterior probability of ``best_hour_of_week``.
    ``shop_pattern`` is the smoothed shop-wide share of each hour of the week.
    """

    customer_ids: np.ndarray
    best_hour_of_week: IntArray
    best_hour_of_day: IntArray
    events: FloatArray
    confidence: FloatArray
    shop_pattern: FloatArray
    prior_strength: float

    @property
    def shop_best_hour_of_week(self) -> int:
        return int(np.argmax(self.shop_pattern))

    @property
    def shop_best_hour_of_day(self) -> int:
        return int(np.argmax(self.shop_pattern.reshape(7, HOURS_PER_DAY).sum(axis=0)))


def hour_of_week(moment: datetime.datetime) -> int:
    """Return the hour of the week of a local datetime (0 = Monday 00:00)."""
    return moment.weekday() * HOURS_PER_DAY + moment.hour


def score_send_times(
    customer_ids: Sequence[object] | np.ndarray,
    hours_of_week: Sequence[int] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
    *,
    prior_strength: float | None = None,
    shop_pattern: FloatArray | None = None,
) -> SendTimeScores:
    """Return each customer's best hour of the week and of the day.

    One entry per engagement event, or per (customer, hour) cell with the event
    count as its weight; ``weights`` defaults to 1.0 each. ``prior_strength`` fixes
    the pseudo-event count ``k`` instead of estimating it, and ``shop_pattern``
    (168 shares) replaces the pattern computed from these events, so that customers
    scored in separate batches share one prior (see ``shop_prior``).
    """
    ids = np.asarray(customer_ids)
    hours = np.asarray(hours_of_week)
    weight = (
        np.ones(hours.shape, dtype=np.float64)
        if weights is None
        else np.asarray(weights, dtype=np.float64)
    )
    _check_events(ids, hours, weight)
    if prior_strength is not None and not (
        np.isfinite(prior_strength) and prior_strength > 0
    ):
        raise InvalidSummaryInput(
            f"prior_strength must be a positive number, got {prior_strength!r}."
        )
    hours = hours.astype(np.int64)

    unique_ids, codes = np.unique(ids, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    n_customers = unique_ids.shape[0]
    totals = np.bincount(codes, weights=weight, minlength=n_customers).astype(
        np.float64
    )
    if shop_pattern is None:
        shop_pattern = smoothed_pattern(hours, weight)
    else:
        shop_pattern = _check_pattern(shop_pattern)

    week_cells = _cells(codes, hours, weight, HOURS_PER_WEEK)
    strength = prior_strength
    if strength is None:
        cell_codes, cell_hours, cell_counts = week_cells
        strength = dirichlet_strength(
            totals,
            cell_counts,
            shop_pattern[cell_hours],
            default=DEFAULT_PRIOR_STRENGTH,
        )

    best_week, best_week_score = _best_category(
        week_cells, shop_pattern, strength, n_customers
    )
    day_pattern = shop_pattern.reshape(7, HOURS_PER_DAY).sum(axis=0)
    day_cells = _cells(codes, hours % HOURS_PER_DAY, weight, HOURS_PER_DAY)
    best_day, _ = _best_category(day_cells, day_pattern, strength, n_customers)

    return SendTimeScores(
        customer_ids=unique_ids,
        best_hour_of_week=best_week,
        best_hour_of_day=best_day,
        events=totals,
        confidence=best_week_score / (totals + strength),
        shop_pattern=shop_pattern,
        prior_strength=float(strength),
    )


def smoothed_pattern(
    hours_of_week: np.ndarray, weights: FloatArray | None = None
) -> FloatArray:
    """Return the shop-wide share of each hour, with one pseudo-event per hour."""
    hours = np.asarray(hours_of_week, dtype=np.int64)
    counts = np.bincount(hours, weights=weights, minlength=HOURS_PER_WEEK)
    return (counts + 1.0) / (counts.sum() + HOURS_PER_WEEK)


def shop_prior(
    customer_ids: np.ndarray,
    hours_of_week: np.ndarray,
    weights: FloatArray | None = None,
    *,
    pattern_hours: np.ndarray | None = None,
    pattern_weights: FloatArray | None = None,
) -> tuple[FloatArray, float]:
    """Return the shop-wide pattern and the estimated prior strength.

    The strength is estimated from the given per-customer events (a sample is
    enough). The pattern comes from ``pattern_hours``/``pattern_weights`` when given
    (typically all events summed per hour), else from the same events.
    """
    if pattern_hours is None:
        pattern = smoothed_pattern(hours_of_week, weights)
    else:
        pattern = smoothed_pattern(pattern_hours, pattern_weights)
    scores = score_send_times(
        customer_ids, hours_of_week, weights, shop_pattern=pattern
    )
    return pattern, scores.prior_strength


def _check_pattern(pattern: FloatArray) -> FloatArray:
    shares = np.asarray(pattern, dtype=np.float64)
    if (
        shares.shape != (HOURS_PER_WEEK,)
        or not np.isfinite(shares).all()
        or (shares <= 0).any()
    ):
        raise InvalidSummaryInput(
            "shop_pattern must hold 168 positive shares, one per hour of the week."
        )
    return shares / shares.sum()


def _check_events(ids: np.ndarray, hours: np.ndarray, weight: np.ndarray) -> None:
    if not (ids.ndim == hours.ndim == weight.ndim == 1):
        raise InvalidSummaryInput(
            "customer_ids, hours_of_week and weights must be one-dimensional."
        )
    if not (ids.shape == hours.shape == weight.shape):
        raise InvalidSummaryInput(
            f"customer_ids, hours_of_week and weights must have the same length, "
            f"got {ids.shape[0]}, {hours.shape[0]} and {weight.shape[0]}."
        )
    if hours.size and not np.issubdtype(hours.dtype, np.integer):
        raise InvalidSummaryInput(
            f"hours_of_week must be integers, got dtype {hours.dtype}."
        )
    out_of_range = (hours < 0) | (hours >= HOURS_PER_WEEK)
    if out_of_range.any():
        index = int(np.flatnonzero(out_of_range)[0])
        raise InvalidSummaryInput(
            f"hours_of_week must be in 0..167; entry {index} is {hours[index]!r}."
        )
    bad_weight = ~np.isfinite(weight) | (weight < 0)
    if bad_weight.any():
        index = int(np.flatnonzero(bad_weight)[0])
        raise InvalidSummaryInput(
            f"weights must be finite and >= 0; entry {index} is {weight[index]!r}."
        )


def _cells(
    codes: IntArray, categories: IntArray, weight: FloatArray, n_categories: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Sum the weights per (customer, category) cell that has any events."""
    keys = codes * n_categories + categories
    unique_keys, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weight).astype(np.float64)
    keys_int = unique_keys.astype(np.int64)
    return keys_int // n_categories, keys_int % n_categories, counts


def _best_category(
    cells: tuple[IntArray, IntArray, FloatArray],
    pattern: FloatArray,
    strength: float,
    n_customers: int,
) -> tuple[IntArray, FloatArray]:
    """Return each customer's category with the highest posterior mean, and its score.

    Only categories where the customer has events, and the shop's own best
    category, can win, so the search runs over the non-empty cells plus one
    candidate per customer instead of a dense customers x categories matrix.
    Ties go to the lower category number.
    """
    cell_codes, cell_categories, cell_counts = cells
    scores = cell_counts + strength * pattern[cell_categories]

    shop_best = int(np.argmax(pattern))
    best = np.full(n_customers, shop_best, dtype=np.int64)
    best_score = np.full(n_customers, strength * pattern[shop_best])
    if cell_codes.size == 0:
        return best, best_score

    order = np.lexsort((cell_categories, -scores, cell_codes))
    first = np.ones(order.size, dtype=bool)
    first[1:] = cell_codes[order][1:] != cell_codes[order][:-1]
    top = order[first]
    top_codes = cell_codes[top]
    top_scores = scores[top]
    top_categories = cell_categories[top]

    wins = (top_scores > best_score[top_codes]) | (
        (top_scores == best_score[top_codes]) & (top_categories < shop_best)
    )
    best[top_codes[wins]] = top_categories[wins]
    best_score[top_codes[wins]] = top_scores[wins]
    return best, best_score
