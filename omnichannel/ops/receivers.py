"""Receivers that count delivery outcomes for the Prometheus metrics."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from omnichannel.channels.models import Delivery
from omnichannel.channels.signals import delivery_status_changed
from omnichannel.ops import metrics

#: Statuses counted; pending and sending are steps on the way, not outcomes.
COUNTED_STATUSES = frozenset(Delivery.FINAL_STATUSES) | {Delivery.Status.DEFERRED}


@receiver(
    delivery_status_changed, sender=Delivery, dispatch_uid="omnichannel-ops-metrics"
)
def count_delivery_outcome(*, delivery: Delivery, **kwargs: Any) -> None:
    """Count the new status once the transaction that set it commits."""
    status = str(delivery.status)
    if status not in COUNTED_STATUSES:
        return
    channel = str(delivery.channel)
    transaction.on_commit(lambda: metrics.count_delivery(channel, status))
