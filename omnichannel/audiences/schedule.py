"""The celery beat entry of the audience sync, for settings or django-celery-beat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

BEAT_TASK = "omnichannel.audiences.sync_due_audiences"
BEAT_ENTRY = "omnichannel: sync ad audiences"
DEFAULT_EVERY = timedelta(minutes=15)


def beat_schedule(every: timedelta = DEFAULT_EVERY) -> dict[str, dict[str, Any]]:
    """Return an entry to merge into ``CELERY_BEAT_SCHEDULE``.

    The task only queues the audiences whose own interval has passed, so ``every``
    bounds how late a due sync may start, not how often each audience syncs.
    """
    return {BEAT_ENTRY: {"task": BEAT_TASK, "schedule": every}}


def install_periodic_task(every: timedelta = DEFAULT_EVERY) -> Any:
    """Create or update the django-celery-beat periodic task; return it."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    seconds = int(every.total_seconds())
    if seconds < 1:
        raise ValueError("The beat interval must be at least one second.")
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=seconds, period=IntervalSchedule.SECONDS
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=BEAT_ENTRY,
        defaults={"task": BEAT_TASK, "interval": interval, "enabled": True},
    )
    return task
