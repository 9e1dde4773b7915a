"""The heartbeat that celery beat queues and a worker stamps."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["Heartbeat"]


class Heartbeat(models.Model):
    """The last time a worker ran the heartbeat task that beat queued.

    A fresh stamp shows that beat schedules, the broker delivers and a worker on the
    sending queue runs tasks; the health endpoint reports its age.
    """

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()
    hostname = models.CharField(
        max_length=255, blank=True, help_text=_("Celery node that ran the task.")
    )

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
