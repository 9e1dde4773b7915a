"""Celery tasks of operations: the heartbeat that proves beat and workers run."""

from __future__ import annotations

import socket

from celery import shared_task
from django.utils import timezone

HEARTBEAT_TASK = "omnichannel.ops.heartbeat"
BEAT_HEARTBEAT = "beat"


@shared_task(name=HEARTBEAT_TASK, ignore_result=True, acks_late=True)
def heartbeat(name: str = BEAT_HEARTBEAT) -> None:
    """Stamp the heartbeat ``name`` with the current time and this host."""
    from omnichannel.ops.models import Heartbeat

    hostname = getattr(heartbeat.request, "hostname", None) or socket.gethostname()
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "hostname": hostname[:255]}
    )
