"""Vectorised scoring of many customers at once with fitted models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnichannel.predictions import bgnbd, clv, gammagamma
from omnichannel.predictions.exceptions import InvalidSummaryInput
from omnichannel.predictions.optimise import FloatArray

DAYS_PER_WEEK = 7.0

# Lifecycle stages, stored as these strings.
ACTIVE = "active"
AT_RISK = "at_risk"
CHURNING = "churning"
ONE_TIME = "one_time"
STAGES = (ACTIVE, AT_RISK, CHURNING, ONE_TIME)


@dataclass(frozen=True)
class ScoreArrays:
    """Scores per customer, in the order of the input arrays.

    ``clv`` is None when no spend model is available.
    """

    probability_alive: FloatArray
    expected_purchases_30d: FloatArray
    expected_purchases_90d: FloatArray
    probability_purchase_30d: FloatArray
    clv: FloatArray | None
    stage: npt.NDArray[np.str_]

    @property
    def churn_risk(self) -> FloatArray:
        return 1.0 - self.probability_alive


def lifecycle_stages(
    frequency: FloatArray,
    churn_risk: FloatArray,
    *,
    at_risk_from: float,
    churning_from: float,
) -> npt.NDArray[np.str_]:
    """Return the lifecycle stage of each customer.

    Customers without a repeat purchase are ``one_time``: BG/NBD gives them a
    churn risk of exactly 0, which says nothing about whether they will come back.
    Everyone else is ``churning`` from ``churning_from``, ``at_risk`` from
    ``at_risk_from`` and ``active`` below it.
    """
    if not 0.0 < at_risk_from <= churning_from <= 1.0:
        raise InvalidSummaryInput(
            f"Churn risk thresholds must satisfy 0 < at risk <= churning <= 1, got "
            f"at risk {at_risk_from!r} and churning {churning_from!r}."
        )
    stages = np.full(np.shape(churn_risk), ACTIVE, dtype="<U8")
    stages[churn_risk >= at_risk_from] = AT_RISK
    stages[churn_risk >= churning_from] = CHURNING
    stages[np.asarray(frequency) <= 0] = ONE_TIME
    return stages


def score_arrays(
    transactions: bgnbd.BGNBDParams,
    spend: gammagamma.GammaGammaParams | None,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
    monetary_value: FloatArray,
    *,
    clv_months: int = 12,
    annual_discount_rate: float = 0.1,
    at_risk_from: float = 0.5,
    churning_from: float = 0.8,
) -> ScoreArrays:
    """Score customers given their summaries (time in weeks).

    Every output is finite for any finite input: recency is clipped into [0, T],
    negative T is treated as 0 and negative or missing spend as 0.
    """
    x, t_x, age = bgnbd.as_score_arrays(frequency, recency, T)
    alive = bgnbd.probability_alive(transactions, x, t_x, age)
    in_30_days = 30.0 / DAYS_PER_WEEK
    in_90_days = 90.0 / DAYS_PER_WEEK
    expected_30 = bgnbd.expected_purchases(transactions, in_30_days, x, t_x, age)
    expected_90 = bgnbd.expected_purchases(transactions, in_90_days, x, t_x, age)
    any_30 = bgnbd.probability_any_purchase(transactions, in_30_days, x, t_x, age)
    value = None
    if spend is not None:
        value = clv.customer_lifetime_value(
            transactions,
            spend,
            x,
            t_x,
            age,
            monetary_value,
            months=clv_months,
            annual_discount_rate=annual_discount_rate,
        )
    stage = lifecycle_stages(
        x, 1.0 - alive, at_risk_from=at_risk_from, churning_from=churning_from
    )
    return ScoreArrays(
        probability_alive=alive,
        expected_purchases_30d=expected_30,
        expected_purchases_90d=expected_90,
        probability_purchase_30d=any_30,
        clv=value,
        stage=stage,
    )
