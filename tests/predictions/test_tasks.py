import pytest
from celery.schedules import crontab
from django.test import override_settings

from omnichannel.predictions import tasks
from omnichannel.predictions.models import CustomerPrediction, PredictionModel
from omnichannel.schedule import parse_crontab

from .conftest import load_cdnow_into_database

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    """Run tasks in-process even when no celery app has read the Django settings."""
    from celery import current_app

    saved = (current_app.conf.task_always_eager, current_app.conf.task_eager_propagates)
    current_app.conf.task_always_eager = True
    current_app.conf.task_eager_propagates = True
    yield
    current_app.conf.task_always_eager, current_app.conf.task_eager_propagates = saved


def test_beat_schedule_default_entries():
    schedule = tasks.beat_schedule()
    fit = schedule["omnichannel-predictions-fit"]
    score = schedule["omnichannel-predictions-score"]
    assert fit["task"] == "omnichannel.predictions.fit"
    assert score["task"] == "omnichannel.predictions.score"
    assert fit["schedule"] == crontab(minute="0", hour="2", day_of_week="0")
    assert score["schedule"] == crontab(minute="30", hour="2")


@override_settings(OMNICHANNEL={"PREDICTIONS_FIT_SCHEDULE": "15 4 1 * *"})
def test_beat_schedule_reads_settings():
    fit = tasks.beat_schedule()["omnichannel-predictions-fit"]
    assert fit["schedule"] == crontab(minute="15", hour="4", day_of_month="1")


def test_parse_crontab_rejects_wrong_field_count():
    with pytest.raises(ValueError, match="five fields"):
        parse_crontab("0 2 *")


def test_tasks_registered_with_celery():
    from celery import current_app

    assert tasks.FIT_TASK in current_app.tasks
    assert tasks.SCORE_TASK in current_app.tasks


def test_fit_task_scores_after_activation(cdnow_sample_rows, eager_celery):
    # The sample ends in 1998, so every customer is long lapsed or one-time.
    load_cdnow_into_database(cdnow_sample_rows)
    result = tasks.fit_predictions.delay().get()
    assert result["transactions_converged"]
    assert result["spend_converged"]
    assert PredictionModel.objects.filter(is_active=True).count() == 2
    assert CustomerPrediction.objects.count() == 2357
