"""Celery tasks of the shop integrations."""

from __future__ import annotations

from celery import shared_task

from omnichannel.integrations.abandonment import detect_abandoned_carts


@shared_task(name="omnichannel.integrations.detect_abandoned_carts", ignore_result=True)
def detect_abandoned_carts_task() -> int:
    """Record ``cart_abandoned`` events; schedule it every few minutes with beat."""
    return detect_abandoned_carts()
