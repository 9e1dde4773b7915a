"""The celery beat entries a production deployment needs, for CELERY_BEAT_SCHEDULE.

django-celery-beat's DatabaseScheduler copies them into its PeriodicTask table when
beat starts; edits made later in the admin stay until the next start.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

DISPATCH_DUE_TASK = "omnichannel.channels.tasks.dispatch_due_deliveries"


def beat_schedule(
    *,
    tick_every: timedelta = timedelta(seconds=30),
    sweep_every: timedelta = timedelta(minutes=1),
    heartbeat_every: timedelta = timedelta(seconds=30),
) -> dict[str, dict[str, Any]]:
    """Return the engine tick, the date triggers, the outbox sweep and the heartbeat.

    Safe to call in a settings module: it imports no models. The sweep queues
    deliveries whose task was lost (a worker died, the broker restarted) and
    resumes or fails sends left in ``sending``.
    """
    from omnichannel.journeys.tasks import beat_schedule as journey_schedule
    from omnichannel.ops.tasks import HEARTBEAT_TASK

    for name, value in (
        ("tick_every", tick_every),
        ("sweep_every", sweep_every),
        ("heartbeat_every", heartbeat_every),
    ):
        if not isinstance(value, timedelta) or value < timedelta(seconds=1):
            raise ValueError(f"{name} must be a timedelta of at least one second.")
    entries = journey_schedule(tick_every=tick_every.total_seconds())
    entries["omnichannel-outbox-sweep"] = {
        "task": DISPATCH_DUE_TASK,
        "schedule": sweep_every.total_seconds(),
    }
    entries["omnichannel-heartbeat"] = {
        "task": HEARTBEAT_TASK,
        "schedule": heartbeat_every.total_seconds(),
    }
    # A tick, sweep or heartbeat still queued when the next one is due is dropped
    # by the worker, so a busy queue does not pile up copies of periodic work.
    for key, every in (
        ("omnichannel-journeys-tick", tick_every),
        ("omnichannel-outbox-sweep", sweep_every),
        ("omnichannel-heartbeat", heartbeat_every),
    ):
        entries[key]["options"] = {"expires": every.total_seconds()}
    return entries
