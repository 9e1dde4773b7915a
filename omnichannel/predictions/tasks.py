"""Celery tasks for refitting and rescoring, and their beat schedule."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.schedules import crontab

from omnichannel.conf import app_settings
from omnichannel.predictions import services

logger = logging.getLogger(__name__)

FIT_TASK = "omnichannel.predictions.fit"
SCORE_TASK = "omnichannel.predictions.score"


@shared_task(name=FIT_TASK)
def fit_predictions() -> dict[str, Any]:
    """Refit the purchase and spend models; rescore everyone if a new one is active."""
    report = services.fit_from_database()
    if report.activated:
        score_predictions.delay()
    return {
        "calibration_end": report.calibration_end.isoformat(),
        "customers": report.n_customers,
        "transactions_model": report.transactions.pk,
        "transactions_converged": report.transactions.converged,
        "spend_model": report.spend.pk,
        "spend_converged": report.spend.converged,
    }


@shared_task(name=SCORE_TASK)
def score_predictions() -> dict[str, Any]:
    """Score every profile with the active models."""
    return services.score_profiles().as_dict()


def parse_crontab(expression: str) -> crontab:
    """Turn five crontab fields ("minute hour day month weekday") into a schedule."""
    fields = str(expression).split()
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} is not a crontab expression: expected five fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}."
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Return celery beat entries for the fit and score tasks.

    Merge them into ``CELERY_BEAT_SCHEDULE``; django-celery-beat's database
    scheduler copies them into its PeriodicTask table when beat starts. The times
    come from ``PREDICTIONS_FIT_SCHEDULE`` and ``PREDICTIONS_SCORE_SCHEDULE`` and
    are read in celery's time zone.
    """
    return {
        "omnichannel-predictions-fit": {
            "task": FIT_TASK,
            "schedule": parse_crontab(app_settings.PREDICTIONS_FIT_SCHEDULE),
        },
        "omnichannel-predictions-score": {
            "task": SCORE_TASK,
            "schedule": parse_crontab(app_settings.PREDICTIONS_SCORE_SCHEDULE),
        },
    }
