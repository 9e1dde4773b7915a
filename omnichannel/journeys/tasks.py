"""Celery tasks of the journey engine, scheduled by django-celery-beat."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(
    name="omnichannel.journeys.tick", acks_late=True, reject_on_worker_lost=True
)
def tick(batch_size: int | None = None, max_batches: int = 50) -> int:
    """Advance due enrollments; several workers may run it at once."""
    from omnichannel.conf import app_settings
    from omnichannel.journeys.engine import run_due

    return run_due(
        batch_size=batch_size or app_settings.ENGINE_BATCH_SIZE,
        max_batches=max_batches,
    )


@shared_task(
    name="omnichannel.journeys.date_triggers",
    acks_late=True,
    reject_on_worker_lost=True,
)
def date_triggers() -> int:
    """Enroll customers whose birthday or first-order anniversary is today."""
    return enroll_date_triggers(timezone.now())


def enroll_date_triggers(now: datetime) -> int:
    """Enroll, for every date-triggered journey, the profiles whose date is today
    in their own time zone. The journey's re-entry policy prevents repeats."""
    from omnichannel.journeys.engine import enroll, local_zone
    from omnichannel.journeys.models import Journey, TriggerType
    from omnichannel.profiles.models import Profile
    from omnichannel.segments import conditions as segment_conditions

    enrolled = 0
    journeys = Journey.objects.filter(
        status=Journey.Status.ACTIVE, trigger_type=TriggerType.DATE
    ).select_related("current_version")
    # Every zone's local date is within a day of the UTC date.
    days = [(now + timedelta(days=offset)).date() for offset in (-1, 0, 1)]
    for journey in journeys:
        field = journey.trigger_config.get("field", "birthday")
        candidates = Profile.objects.filter(merged_into__isnull=True).exclude(
            **{f"{field}__isnull": True}
        )
        month_days = [(day.month, day.day) for day in days]
        from django.db.models import Q

        query = Q()
        for month, day in month_days:
            query |= Q(**{f"{field}__month": month, f"{field}__day": day})
        for profile in candidates.filter(query):
            value = getattr(profile, field)
            local_today = now.astimezone(local_zone(profile)).date()
            condition = journey.trigger_config.get("condition")
            if condition and not segment_conditions.evaluate(
                condition, profile, now=now
            ):
                continue
            if (value.month, value.day) != (local_today.month, local_today.day):
                continue
            if (
                field == "first_order_at"
                and value.astimezone(local_zone(profile)).year == local_today.year
            ):
                continue
            if enroll(
                journey,
                profile,
                at=now,
                trigger={"type": "date", "field": field, "year": local_today.year},
            ):
                enrolled += 1
    return enrolled


def beat_schedule(tick_every: float = 30.0) -> dict[str, dict]:
    """Return celery beat entries for the engine tick (every ``tick_every``
    seconds) and the date triggers (hourly, so each time zone's morning is
    covered)."""
    from celery.schedules import crontab

    return {
        "omnichannel-journeys-tick": {
            "task": "omnichannel.journeys.tick",
            "schedule": float(tick_every),
        },
        "omnichannel-journeys-date-triggers": {
            "task": "omnichannel.journeys.date_triggers",
            "schedule": crontab(minute=5),
        },
    }
