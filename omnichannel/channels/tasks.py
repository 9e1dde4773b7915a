"""Celery tasks of the outbox."""

from __future__ import annotations

import logging

from celery import shared_task

from omnichannel.channels import services
from omnichannel.channels.models import Delivery
from omnichannel.ops.logcontext import log_ids

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def dispatch_delivery_task(delivery_id: int) -> str:
    """Dispatch one delivery; return its status afterwards."""
    try:
        with log_ids(delivery_id=delivery_id):
            return services.dispatch_delivery(delivery_id).status
    except Delivery.DoesNotExist:
        logger.warning("delivery %s no longer exists", delivery_id)
        return "missing"


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def dispatch_deliveries_task(delivery_ids: list[int]) -> int:
    """Dispatch a batch of deliveries; return how many went to a backend."""
    from omnichannel.channels.dispatch import dispatch_many

    return dispatch_many(delivery_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def dispatch_due_deliveries(limit: int = 500) -> int:
    """Resume or fail interrupted sends and queue every due delivery; return the
    count queued.

    Run it periodically (every minute) with celery beat.
    """
    services.fail_interrupted()
    ids = services.due_delivery_ids(limit=limit)
    services.mark_queued(ids)
    for delivery_id in ids:
        dispatch_delivery_task.delay(delivery_id)
    if ids:
        logger.info("queued %d due deliveries", len(ids))
    return len(ids)
