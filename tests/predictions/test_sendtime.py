import datetime

import numpy as np
import pytest

from omnichannel.predictions import sendtime
from omnichannel.predictions.exceptions import InvalidSummaryInput

MONDAY_9 = 9
TUESDAY_20 = 24 + 20
SATURDAY_14 = 5 * 24 + 14


def shop_with_morning_readers(extra_ids=(), extra_hours=()):
    """Forty customers who open on Monday around 09:00, plus the given events."""
    rng = np.random.default_rng(11)
    ids = np.repeat(np.arange(40), 10)
    hours = MONDAY_9 + rng.integers(-1, 2, ids.size)
    return (
        np.concatenate([ids, np.asarray(extra_ids, dtype=int)]),
        np.concatenate([hours, np.asarray(extra_hours, dtype=int)]),
    )


def row(scores, customer):
    return int(np.flatnonzero(scores.customer_ids == customer)[0])


def test_hour_of_week_monday_midnight_is_zero():
    assert sendtime.hour_of_week(datetime.datetime(2024, 1, 1, 0, 30)) == 0
    assert sendtime.hour_of_week(datetime.datetime(2024, 1, 7, 23, 59)) == 167


def test_send_time_customer_with_long_history_keeps_own_hour():
    ids, hours = shop_with_morning_readers([100] * 30, [SATURDAY_14] * 30)
    scores = sendtime.score_send_times(ids, hours)
    index = row(scores, 100)
    assert scores.best_hour_of_week[index] == SATURDAY_14
    assert scores.best_hour_of_day[index] == 14


def test_send_time_customer_with_one_event_pulled_to_shop():
    ids, hours = shop_with_morning_readers([100], [SATURDAY_14])
    scores = sendtime.score_send_times(ids, hours)
    index = row(scores, 100)
    assert scores.best_hour_of_week[index] == scores.shop_best_hour_of_week
    assert scores.shop_best_hour_of_week in (MONDAY_9 - 1, MONDAY_9, MONDAY_9 + 1)


def test_send_time_prior_strength_estimated_from_data():
    # Customers who all read at the same hour make a strong prior; customers who
    # each read at their own hour make a weak one.
    rng = np.random.default_rng(5)
    alike_ids = np.repeat(np.arange(200), 6)
    alike_hours = rng.choice([MONDAY_9, TUESDAY_20], alike_ids.size)
    own_hours = np.repeat(rng.integers(0, 168, 200), 6)
    alike = sendtime.score_send_times(alike_ids, alike_hours)
    distinct = sendtime.score_send_times(alike_ids, own_hours)
    assert alike.prior_strength > 10 * distinct.prior_strength
    assert distinct.prior_strength < 5


def test_send_time_fixed_prior_strength_used():
    ids, hours = shop_with_morning_readers([100] * 3, [SATURDAY_14] * 3)
    weak = sendtime.score_send_times(ids, hours, prior_strength=1.0)
    strong = sendtime.score_send_times(ids, hours, prior_strength=1000.0)
    assert weak.prior_strength == 1.0
    assert weak.best_hour_of_week[row(weak, 100)] == SATURDAY_14
    assert strong.best_hour_of_week[row(strong, 100)] == strong.shop_best_hour_of_week


def test_send_time_weights_favour_clicks():
    ids = np.array([1, 1, 1, 2, 2, 2])
    hours = np.array([MONDAY_9, MONDAY_9, TUESDAY_20] * 2)
    weights = np.array([1.0, 1.0, 5.0] * 2)
    scores = sendtime.score_send_times(ids, hours, weights, prior_strength=0.5)
    assert scores.best_hour_of_week.tolist() == [TUESDAY_20, TUESDAY_20]


def test_send_time_best_hour_of_day_sums_over_days():
    ids = np.array([1] * 5)
    hours = np.array([20, 24 + 20, 48 + 20, SATURDAY_14, SATURDAY_14])
    scores = sendtime.score_send_times(ids, hours, prior_strength=0.5)
    assert scores.best_hour_of_week[0] == SATURDAY_14
    assert scores.best_hour_of_day[0] == 20


def test_send_time_confidence_grows_with_history():
    ids, hours = shop_with_morning_readers(
        [100] * 2 + [101] * 40, [SATURDAY_14] * 2 + [SATURDAY_14] * 40
    )
    scores = sendtime.score_send_times(ids, hours, prior_strength=5.0)
    assert scores.confidence[row(scores, 101)] > scores.confidence[row(scores, 100)]
    assert np.all((scores.confidence > 0) & (scores.confidence <= 1))


def test_send_time_no_events():
    scores = sendtime.score_send_times(np.array([], dtype=int), np.array([], dtype=int))
    assert scores.customer_ids.size == 0
    assert scores.prior_strength == sendtime.DEFAULT_PRIOR_STRENGTH
    assert scores.shop_pattern.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("hours", "weights", "message"),
    [
        ([168], None, "0..167"),
        ([-1], None, "0..167"),
        ([1.5], None, "integers"),
        ([3], [-1.0], "weights"),
        ([3], [float("inf")], "weights"),
        ([3, 4], None, "same length"),
    ],
)
def test_send_time_rejects_bad_input(hours, weights, message):
    with pytest.raises(InvalidSummaryInput, match=message):
        sendtime.score_send_times(np.array([1]), np.array(hours), weights)


def test_send_time_rejects_bad_prior_strength():
    with pytest.raises(InvalidSummaryInput, match="prior_strength"):
        sendtime.score_send_times(np.array([1]), np.array([3]), prior_strength=0)
