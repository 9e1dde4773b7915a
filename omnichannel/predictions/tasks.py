"""Celery tasks for refitting and rescoring, and their beat schedule."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from omnichannel.conf import app_settings
from omnichannel.predictions import services
from omnichannel.schedule import (
    PREDICTIONS_FIT_TASK,
    PREDICTIONS_SCORE_TASK,
    prediction_entries,
)

logger = logging.getLogger(__name__)

FIT_TASK = PREDICTIONS_FIT_TASK
SCORE_TASK = PREDICTIONS_SCORE_TASK


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


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Return celery beat entries for the fit and score tasks.

    Merge them into ``CELERY_BEAT_SCHEDULE``; django-celery-beat's database
    scheduler copies them into its PeriodicTask table when beat starts. The times
    come from ``PREDICTIONS_FIT_SCHEDULE`` and ``PREDICTIONS_SCORE_SCHEDULE`` and
    are read in celery's time zone.
    """
    return prediction_entries(
        app_settings.PREDICTIONS_FIT_SCHEDULE, app_settings.PREDICTIONS_SCORE_SCHEDULE
    )
