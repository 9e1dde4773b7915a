"""Customer lifetime value from BG/NBD purchases and Gamma-Gamma spend."""

from __future__ import annotations

import numpy as np

from omnichannel.predictions import bgnbd, gammagamma
from omnichannel.predictions.exceptions import InvalidSummaryInput
from omnichannel.predictions.optimise import FloatArray

WEEKS_PER_MONTH = 365.25 / 12 / 7


def customer_lifetime_value(
    transactions: bgnbd.BGNBDParams,
    spend: gammagamma.GammaGammaParams,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
    monetary_value: FloatArray,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.1,
) -> FloatArray:
    """Return the discounted expected spend over the next ``months`` months.

    Expected purchases in each month (differences of the BG/NBD conditional
    expectation at month ends, months of 365.25 / 12 days) times the Gamma-Gamma
    expected spend, each month discounted to today at the monthly rate equivalent to
    ``annual_discount_rate``.
    """
    if months < 1:
        raise InvalidSummaryInput(f"months must be >= 1, got {months!r}.")
    if not (annual_discount_rate > -1.0 and np.isfinite(annual_discount_rate)):
        raise InvalidSummaryInput(
            f"annual_discount_rate must be a finite number > -1, got "
            f"{annual_discount_rate!r}."
        )
    monthly_factor = (1.0 + annual_discount_rate) ** (1.0 / 12.0)

    x, t_x, age = bgnbd.as_score_arrays(frequency, recency, T)
    alive = bgnbd.probability_alive(transactions, x, t_x, age)
    month_ends = [month * WEEKS_PER_MONTH for month in range(1, months + 1)]
    cumulative = bgnbd.expected_purchases_if_active_at(transactions, month_ends, x, age)
    discounted_purchases = np.zeros_like(x)
    previous = np.zeros_like(x)
    for month, purchases in enumerate(cumulative, start=1):
        discounted_purchases += (purchases - previous) / monthly_factor**month
        previous = purchases
    return (
        alive
        * discounted_purchases
        * gammagamma.expected_spend(spend, x, monetary_value)
    )
