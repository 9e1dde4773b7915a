"""Celery tasks of the profiles domain."""

from __future__ import annotations

from celery import shared_task

from omnichannel.profiles.retention import apply_event_retention
from omnichannel.schedule import RETENTION_ENTRY


@shared_task(name="omnichannel.profiles.apply_event_retention", ignore_result=True)
def apply_event_retention_task() -> dict[str, int]:
    """Delete events older than ``EVENT_RETENTION`` allows; run it daily."""
    return apply_event_retention()


#: Entries for the project's ``CELERY_BEAT_SCHEDULE``; django-celery-beat's
#: database scheduler copies them into its tables too.
BEAT_SCHEDULE = {"omnichannel-event-retention": RETENTION_ENTRY}
