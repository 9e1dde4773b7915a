"""Celery tasks of the shop integrations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task

from omnichannel.integrations.abandonment import detect_abandoned_carts

ABANDONED_CARTS_TASK = "omnichannel.integrations.detect_abandoned_carts"
ABANDONED_CARTS_ENTRY = "omnichannel: detect abandoned carts"


@shared_task(name=ABANDONED_CARTS_TASK, ignore_result=True)
def detect_abandoned_carts_task() -> int:
    """Record ``cart_abandoned`` events; schedule it every few minutes with beat."""
    return detect_abandoned_carts()


def beat_schedule(every: timedelta = timedelta(minutes=5)) -> dict[str, dict[str, Any]]:
    """Return the beat entry of the abandoned-cart scan for ``CELERY_BEAT_SCHEDULE``.

    ``every`` bounds how late after ``CART_ABANDONED_AFTER`` a cart is reported; the
    event's time is exact either way.
    """
    return {ABANDONED_CARTS_ENTRY: {"task": ABANDONED_CARTS_TASK, "schedule": every}}
