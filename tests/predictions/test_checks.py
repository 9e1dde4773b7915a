import pytest
from django.test import override_settings

from omnichannel.predictions.checks import check_prediction_settings


def ids_for(**settings):
    with override_settings(OMNICHANNEL=settings):
        return [message.id for message in check_prediction_settings()]


def test_checks_defaults_pass():
    assert ids_for() == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"PREDICTIONS_AT_RISK_FROM": 0.9, "PREDICTIONS_CHURNING_FROM": 0.5}, "E060"),
        ({"PREDICTIONS_AT_RISK_FROM": 0}, "E060"),
        ({"PREDICTIONS_CHURNING_FROM": "0.8"}, "E060"),
        ({"PREDICTIONS_CHURN_RISK_THRESHOLDS": [0.5, 1.5]}, "E061"),
        ({"PREDICTIONS_CHURN_RISK_THRESHOLDS": 0.5}, "E061"),
        ({"PREDICTIONS_ANNUAL_DISCOUNT_RATE": -1}, "E062"),
        ({"PREDICTIONS_ANNUAL_DISCOUNT_RATE": 10}, "W060"),
        ({"PREDICTIONS_MIN_CUSTOMERS": 0}, "E063"),
        ({"PREDICTIONS_BATCH_SIZE": 1.5}, "E063"),
        ({"PREDICTIONS_ENGAGEMENT_DAYS": True}, "E063"),
        ({"PREDICTIONS_PENALIZER": -0.1}, "E064"),
        ({"PREDICTIONS_SEND_TIME_PRIOR_STRENGTH": 0}, "E065"),
        ({"PREDICTIONS_FIT_SCHEDULE": "0 2 * *"}, "E066"),
        ({"PREDICTIONS_SCORE_SCHEDULE": "99 2 * * *"}, "E066"),
    ],
)
def test_checks_reject_bad_setting(settings, expected):
    assert ids_for(**settings) == [f"omnichannel.{expected}"]


def test_checks_accept_empty_thresholds():
    assert ids_for(PREDICTIONS_CHURN_RISK_THRESHOLDS=[]) == []
