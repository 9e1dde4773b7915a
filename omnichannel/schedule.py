"""Every periodic task of the app, as one celery beat schedule.

Put it in the project's settings, after the ``OMNICHANNEL`` dict::

    from omnichannel.schedule import beat_schedule

    CELERY_BEAT_SCHEDULE = beat_schedule(OMNICHANNEL)
    CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

With django-celery-beat's ``DatabaseScheduler``, beat copies these entries into its
tables when it starts, where staff can change their times in the admin. This module
imports no models, so a settings module can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from celery.schedules import crontab

PREDICTIONS_FIT_TASK = "omnichannel.predictions.fit"
PREDICTIONS_SCORE_TASK = "omnichannel.predictions.score"
RETENTION_ENTRY = {
    "task": "omnichannel.profiles.apply_event_retention",
    "schedule": crontab(hour=3, minute=30),
}


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


def prediction_entries(fit: str, score: str) -> dict[str, dict[str, Any]]:
    """Return the beat entries of the prediction fit and score, from crontab text."""
    return {
        "omnichannel-predictions-fit": {
            "task": PREDICTIONS_FIT_TASK,
            "schedule": parse_crontab(fit),
        },
        "omnichannel-predictions-score": {
            "task": PREDICTIONS_SCORE_TASK,
            "schedule": parse_crontab(score),
        },
    }


def assistant_entries(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the beat entry of the assistant's weekly insight."""
    from omnichannel.assistant.settings import ASSISTANT_DEFAULTS

    assistant = options.get("ASSISTANT") or {}
    expression = assistant.get(
        "INSIGHTS_SCHEDULE", ASSISTANT_DEFAULTS["INSIGHTS_SCHEDULE"]
    )
    return {
        "omnichannel-assistant-weekly-insight": {
            "task": "omnichannel.assistant.write_weekly_insight",
            "schedule": parse_crontab(expression),
        }
    }


def beat_schedule(options: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """Return the beat entries of every domain of the app, keyed by entry name.

    ``options`` is the ``OMNICHANNEL`` dict, for use inside the settings module;
    without it the loaded settings are read.
    """
    from omnichannel.audiences.schedule import beat_schedule as audiences
    from omnichannel.conf import DEFAULTS
    from omnichannel.integrations.tasks import beat_schedule as abandoned_carts
    from omnichannel.ops.schedule import beat_schedule as engine

    if options is None:
        from django.conf import settings

        options = getattr(settings, "OMNICHANNEL", {})
    fit = options.get("PREDICTIONS_FIT_SCHEDULE", DEFAULTS["PREDICTIONS_FIT_SCHEDULE"])
    score = options.get(
        "PREDICTIONS_SCORE_SCHEDULE", DEFAULTS["PREDICTIONS_SCORE_SCHEDULE"]
    )
    return {
        # The journey tick and date triggers, the outbox sweep and the heartbeat.
        **engine(),
        **abandoned_carts(),
        "omnichannel-event-retention": RETENTION_ENTRY,
        **audiences(),
        **prediction_entries(fit, score),
        "omnichannel-segments-rebuild-periodic": {
            "task": "omnichannel.segments.rebuild_periodic",
            "schedule": timedelta(minutes=60),
        },
        "omnichannel-offers-expire": {
            "task": "omnichannel.offers.expire",
            "schedule": crontab(minute=10),
        },
        "omnichannel-conversations-close-idle": {
            "task": "omnichannel.conversations.close_idle",
            "schedule": crontab(minute=20),
        },
        "omnichannel-experiments-evaluate": {
            "task": "omnichannel.experiments.evaluate",
            "schedule": crontab(minute=40),
        },
        **assistant_entries(options),
    }
