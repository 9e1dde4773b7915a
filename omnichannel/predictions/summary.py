"""Turn purchase rows into the per-customer summary that BG/NBD and Gamma-Gamma fit.

Rules, applied in this order:

* Time is measured in weeks of seven days. Rows carry calendar dates; the caller
  converts datetimes to dates in the shop's time zone.
* All purchases by one customer on one date form one transaction, and its value is
  the sum of that date's rows.
* A row with a negative amount is a refund. It never creates a transaction. It is
  netted against purchases on the same date first; whatever remains is subtracted
  from the customer's repeat spend, which never drops below zero.
* A purchase worth 0.00 is a transaction (free items are still purchases).
* Rows dated after ``calibration_end`` are left out of the calibration summary and,
  when ``holdout_end`` is given, counted as holdout transactions for customers whose
  first purchase falls inside the calibration period.
* Customers whose first purchase is after ``calibration_end`` are not in the summary.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnichannel.predictions.exceptions import InvalidSummaryInput

DAYS_PER_WEEK = 7.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TransactionSummary:
    """Per-customer arrays in the order of ``customer_ids``.

    ``frequency`` counts repeat transactions (transactions after the first),
    ``recency`` is the age in weeks of the customer at the last transaction,
    ``T`` the age in weeks at ``calibration_end``, ``monetary_value`` the mean value
    of the repeat transactions (0.0 for customers without repeat transactions), and
    ``holdout_frequency`` the number of transactions after ``calibration_end`` up to
    and including ``holdout_end`` (all zeros when no holdout end was given).
    """

    customer_ids: np.ndarray
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray
    holdout_frequency: FloatArray
    calibration_end: datetime.date
    holdout_end: datetime.date | None

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    @property
    def holdout_weeks(self) -> float:
        if self.holdout_end is None:
            return 0.0
        return (self.holdout_end - self.calibration_end).days / DAYS_PER_WEEK


def to_day_numbers(
    dates: Sequence[datetime.date] | np.ndarray,
) -> npt.NDArray[np.int64]:
    """Convert dates (``datetime.date`` or ``datetime64``) to days since 1970-01-01."""
    array = np.asarray(dates)
    if array.dtype == object:
        if any(isinstance(value, datetime.datetime) for value in array.flat):
            raise InvalidSummaryInput(
                "dates must be calendar dates, not datetimes: convert each datetime "
                "to a date in the shop's time zone first."
            )
        array = array.astype("datetime64[D]")
    if not np.issubdtype(array.dtype, np.datetime64):
        raise InvalidSummaryInput(
            f"dates must be datetime.date values or datetime64, not {array.dtype}."
        )
    if np.isnat(array).any():
        raise InvalidSummaryInput("dates contains a missing value (NaT).")
    return array.astype("datetime64[D]").astype(np.int64)


def summarise_transactions(
    customer_ids: Sequence[object] | np.ndarray,
    dates: Sequence[datetime.date] | np.ndarray,
    amounts: Sequence[float] | np.ndarray,
    *,
    calibration_end: datetime.date,
    holdout_end: datetime.date | None = None,
) -> TransactionSummary:
    """Summarise purchase rows per customer; see the module docstring for the rules."""
    ids = np.asarray(customer_ids)
    days = to_day_numbers(dates)
    values = np.asarray(amounts, dtype=np.float64)
    _check_rows(ids, days, values)
    if holdout_end is not None and holdout_end <= calibration_end:
        raise InvalidSummaryInput(
            f"holdout_end ({holdout_end}) must be after calibration_end "
            f"({calibration_end})."
        )

    end_day = _day_number(calibration_end)
    last_day = _day_number(holdout_end) if holdout_end is not None else end_day
    in_window = days <= last_day
    ids, days, values = ids[in_window], days[in_window], values[in_window]

    unique_ids, codes = np.unique(ids, return_inverse=True)
    codes = codes.reshape(-1)
    day_keys, purchase_days = customer_days(codes, days, values)
    day_codes, day_numbers = day_keys
    day_spend, has_purchase = purchase_days

    # The first purchase day of each customer decides whether they are in the
    # calibration summary at all, and is their time zero.
    n_ids = unique_ids.shape[0]
    purchase_codes = day_codes[has_purchase]
    purchase_numbers = day_numbers[has_purchase]
    first_day = np.full(n_ids, np.iinfo(np.int64).max)
    np.minimum.at(first_day, purchase_codes, purchase_numbers)
    born = first_day <= end_day

    calibration = has_purchase & (day_numbers <= end_day)
    counts = np.bincount(day_codes[calibration], minlength=n_ids).astype(np.float64)
    last_purchase = np.full(n_ids, np.iinfo(np.int64).min)
    np.maximum.at(last_purchase, day_codes[calibration], day_numbers[calibration])

    # Repeat spend: every later purchase day, plus the refunds that a day's own
    # purchases did not cover (on the first day or on days without a purchase).
    is_first = calibration & (day_numbers == first_day[day_codes])
    repeat = calibration & ~is_first
    uncovered_refund = (day_numbers <= end_day) & (is_first | ~has_purchase)
    spend_parts = np.where(repeat, day_spend, np.minimum(day_spend, 0.0))
    counted = repeat | uncovered_refund
    repeat_spend = np.bincount(
        day_codes[counted], weights=spend_parts[counted], minlength=n_ids
    )

    holdout = has_purchase & (day_numbers > end_day)
    holdout_counts = np.bincount(day_codes[holdout], minlength=n_ids).astype(np.float64)

    frequency = np.maximum(counts[born] - 1.0, 0.0)
    first_born = first_day[born]
    recency = (last_purchase[born] - first_born).astype(np.float64) / DAYS_PER_WEEK
    age = (end_day - first_born).astype(np.float64) / DAYS_PER_WEEK
    monetary = np.zeros_like(frequency)
    has_repeat = frequency > 0
    monetary[has_repeat] = (
        np.maximum(repeat_spend[born][has_repeat], 0.0) / frequency[has_repeat]
    )

    return TransactionSummary(
        customer_ids=unique_ids[born],
        frequency=frequency,
        recency=recency,
        T=age,
        monetary_value=monetary,
        holdout_frequency=holdout_counts[born],
        calibration_end=calibration_end,
        holdout_end=holdout_end,
    )


def _day_number(value: datetime.date) -> int:
    if isinstance(value, datetime.datetime):
        raise InvalidSummaryInput(
            "calibration_end and holdout_end must be dates, not datetimes."
        )
    return int(np.datetime64(value, "D").astype(np.int64))


def _check_rows(ids: np.ndarray, days: np.ndarray, values: np.ndarray) -> None:
    if not (ids.ndim == days.ndim == values.ndim == 1):
        raise InvalidSummaryInput(
            "customer_ids, dates and amounts must be one-dimensional sequences."
        )
    if not (ids.shape == days.shape == values.shape):
        raise InvalidSummaryInput(
            f"customer_ids, dates and amounts must have the same length, got "
            f"{ids.shape[0]}, {days.shape[0]} and {values.shape[0]}."
        )
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise InvalidSummaryInput(
            f"amounts must be finite numbers; row {bad} is {values[bad]!r}."
        )


def customer_days(
    codes: np.ndarray, days: np.ndarray, values: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[FloatArray, np.ndarray]]:
    """Collapse rows to one entry per (customer, date).

    Returns the customer codes and day numbers of the entries, the net spend of
    each entry, and whether it contains at least one purchase (an amount >= 0).
    """
    if codes.shape[0] == 0:
        empty_int = np.zeros(0, dtype=np.int64)
        return (empty_int, empty_int), (np.zeros(0), np.zeros(0, dtype=bool))
    order = np.lexsort((days, codes))
    sorted_codes = codes[order].astype(np.int64)
    sorted_days = days[order]
    sorted_values = values[order]

    starts = np.ones(sorted_codes.shape[0], dtype=bool)
    starts[1:] = (sorted_codes[1:] != sorted_codes[:-1]) | (
        sorted_days[1:] != sorted_days[:-1]
    )
    boundaries = np.flatnonzero(starts)
    spend = np.add.reduceat(sorted_values, boundaries)
    purchases = np.add.reduceat((sorted_values >= 0).astype(np.int64), boundaries)
    return (sorted_codes[boundaries], sorted_days[boundaries]), (spend, purchases > 0)
