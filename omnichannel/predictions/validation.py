"""Holdout validation: fit on a calibration period, compare with the next period.

The comparison covers customers whose first purchase falls in the calibration
period. Their predicted holdout purchases are the BG/NBD conditional expectations
over the holdout length; the actual ones are their purchase days in the holdout.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from omnichannel.predictions import bgnbd
from omnichannel.predictions.optimise import FitResult, FloatArray
from omnichannel.predictions.summary import (
    DAYS_PER_WEEK,
    TransactionSummary,
    customer_days,
    summarise_transactions,
    to_day_numbers,
)

# Calibration frequencies shown one by one; higher ones are pooled as "7+".
TOP_FREQUENCY = 7


@dataclass(frozen=True)
class FrequencyRow:
    """Mean actual and predicted holdout purchases of customers with one frequency."""

    label: str
    customers: int
    mean_actual: float
    mean_predicted: float

    def as_dict(self) -> dict[str, object]:
        return {
            "frequency": self.label,
            "customers": self.customers,
            "mean_actual": round(self.mean_actual, 4),
            "mean_predicted": round(self.mean_predicted, 4),
        }


@dataclass(frozen=True)
class HoldoutComparison:
    """Predicted against actual holdout purchases, per customer and in total."""

    summary: TransactionSummary
    fit: FitResult
    predicted: FloatArray
    table: list[FrequencyRow]
    week_ends: FloatArray
    cumulative_actual: FloatArray
    cumulative_predicted: FloatArray
    calibration_weeks: float

    @property
    def actual(self) -> FloatArray:
        return self.summary.holdout_frequency

    @property
    def predicted_total(self) -> float:
        return float(self.predicted.sum())

    @property
    def actual_total(self) -> float:
        return float(self.actual.sum())

    @property
    def mean_absolute_error(self) -> float:
        return float(np.mean(np.abs(self.predicted - self.actual)))

    @property
    def root_mean_squared_error(self) -> float:
        return float(np.sqrt(np.mean((self.predicted - self.actual) ** 2)))

    @property
    def correlation(self) -> float:
        if self.actual.std() == 0 or self.predicted.std() == 0:
            return 0.0
        return float(np.corrcoef(self.predicted, self.actual)[0, 1])


def compare_holdout(
    customer_ids: np.ndarray,
    dates: np.ndarray,
    amounts: FloatArray,
    *,
    calibration_end: datetime.date,
    holdout_end: datetime.date,
    penalizer: float = 0.0,
    min_customers: int = 1,
    min_repeat_customers: int = 1,
) -> HoldoutComparison:
    """Fit BG/NBD on the calibration period and predict the holdout period.

    Raises ``InsufficientHistory`` when the calibration period is too thin to fit.
    A fit that does not converge is still compared, and ``fit.converged`` is
    then False.
    """
    summary = summarise_transactions(
        customer_ids,
        dates,
        amounts,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
    )
    fit = bgnbd.fit(
        summary.frequency,
        summary.recency,
        summary.T,
        penalizer=penalizer,
        min_customers=min_customers,
        min_repeat_customers=min_repeat_customers,
    )
    params = bgnbd.BGNBDParams(**fit.params)
    predicted = bgnbd.expected_purchases(
        params, summary.holdout_weeks, summary.frequency, summary.recency, summary.T
    )
    week_ends, actual_curve, predicted_curve, calibration_weeks = _tracking_curves(
        params, summary, customer_ids, dates, amounts
    )
    return HoldoutComparison(
        summary=summary,
        fit=fit,
        predicted=predicted,
        table=_frequency_table(summary, predicted),
        week_ends=week_ends,
        cumulative_actual=actual_curve,
        cumulative_predicted=predicted_curve,
        calibration_weeks=calibration_weeks,
    )


def _frequency_table(
    summary: TransactionSummary, predicted: FloatArray
) -> list[FrequencyRow]:
    rows = []
    capped = np.minimum(summary.frequency, TOP_FREQUENCY)
    for frequency in range(TOP_FREQUENCY + 1):
        members = capped == frequency
        if not members.any():
            continue
        label = f"{frequency}+" if frequency == TOP_FREQUENCY else str(frequency)
        rows.append(
            FrequencyRow(
                label=label,
                customers=int(members.sum()),
                mean_actual=float(summary.holdout_frequency[members].mean()),
                mean_predicted=float(predicted[members].mean()),
            )
        )
    return rows


def _tracking_curves(
    params: bgnbd.BGNBDParams,
    summary: TransactionSummary,
    customer_ids: np.ndarray,
    dates: np.ndarray,
    amounts: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """Return weekly cumulative repeat purchases, actual and expected.

    Weeks run from the first purchase of the cohort (customers in the summary) to
    the holdout end. The expectation sums each customer's unconditional
    E[repeat purchases] from their first purchase on, grouped by first-purchase day.
    """
    ids = np.asarray(customer_ids)
    days = to_day_numbers(dates)
    values = np.asarray(amounts, dtype=np.float64)
    assert summary.holdout_end is not None
    end_day = int(np.datetime64(summary.holdout_end, "D").astype(np.int64))
    calibration_day = int(np.datetime64(summary.calibration_end, "D").astype(np.int64))

    in_cohort = np.isin(ids, summary.customer_ids) & (days <= end_day)
    unique_ids, codes = np.unique(ids[in_cohort], return_inverse=True)
    (day_codes, day_numbers), (_spend, has_purchase) = customer_days(
        codes.reshape(-1).astype(np.int64), days[in_cohort], values[in_cohort]
    )
    day_codes, day_numbers = day_codes[has_purchase], day_numbers[has_purchase]
    first_day = np.full(unique_ids.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first_day, day_codes, day_numbers)
    start = int(first_day.min()) if first_day.size else calibration_day

    n_weeks = int(np.ceil((end_day - start + 1) / DAYS_PER_WEEK))
    week_ends = np.arange(1, n_weeks + 1, dtype=np.float64)
    repeat_days = day_numbers[day_numbers != first_day[day_codes]]
    weekly = np.bincount(
        ((repeat_days - start) // int(DAYS_PER_WEEK)).astype(np.int64),
        minlength=n_weeks,
    )[:n_weeks]
    actual = np.cumsum(weekly).astype(np.float64)

    births, counts = np.unique(first_day - start, return_counts=True)
    ages = week_ends[None, :] - births[:, None] / DAYS_PER_WEEK
    expected = bgnbd.expected_purchases_new_customer(params, np.maximum(ages, 0.0))
    predicted = (expected * counts[:, None]).sum(axis=0)
    calibration_weeks = (calibration_day + 1 - start) / DAYS_PER_WEEK
    return week_ends, actual, predicted, calibration_weeks


def format_report(comparison: HoldoutComparison) -> str:
    """Return the comparison as plain text: totals, errors and the frequency table."""
    summary = comparison.summary
    lines = [
        f"Calibration to {summary.calibration_end}, holdout to {summary.holdout_end} "
        f"({summary.holdout_weeks:.1f} weeks), {len(summary)} customers.",
        "BG/NBD: "
        + ", ".join(
            f"{name}={value:.4f}" for name, value in comparison.fit.params.items()
        )
        + f", log-likelihood {comparison.fit.log_likelihood:.1f}"
        + ("" if comparison.fit.converged else " (NOT CONVERGED)"),
        f"Holdout purchases: predicted {comparison.predicted_total:.1f}, "
        f"actual {comparison.actual_total:.0f}.",
        f"Per customer: mean absolute error {comparison.mean_absolute_error:.3f}, "
        f"RMSE {comparison.root_mean_squared_error:.3f}, "
        f"correlation {comparison.correlation:.3f}.",
        "",
        f"{'frequency':>9} {'customers':>9} {'actual':>8} {'predicted':>9}",
    ]
    for row in comparison.table:
        lines.append(
            f"{row.label:>9} {row.customers:>9} {row.mean_actual:>8.3f} "
            f"{row.mean_predicted:>9.3f}"
        )
    return "\n".join(lines)


def render_plot(comparison: HoldoutComparison) -> bytes:
    """Draw the frequency table and the weekly tracking curves; return PNG bytes."""
    figure = Figure(figsize=(11, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    by_frequency, tracking = figure.subplots(1, 2)

    labels = [row.label for row in comparison.table]
    positions = np.arange(len(labels))
    by_frequency.bar(
        positions - 0.2,
        [row.mean_actual for row in comparison.table],
        0.4,
        label="actual",
    )
    by_frequency.bar(
        positions + 0.2,
        [row.mean_predicted for row in comparison.table],
        0.4,
        label="predicted",
    )
    by_frequency.set_xticks(positions, labels)
    by_frequency.set_xlabel("repeat purchases in calibration period")
    by_frequency.set_ylabel("mean purchases in holdout period")
    by_frequency.set_title("Holdout purchases by calibration frequency")
    by_frequency.legend()

    tracking.plot(comparison.week_ends, comparison.cumulative_actual, label="actual")
    tracking.plot(
        comparison.week_ends,
        comparison.cumulative_predicted,
        linestyle="--",
        label="predicted",
    )
    tracking.axvline(comparison.calibration_weeks, color="grey", linewidth=1)
    tracking.set_xlabel("week")
    tracking.set_ylabel("cumulative repeat purchases")
    tracking.set_title("Cumulative repeat purchases")
    tracking.legend()

    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
