"""Celery tasks of the audience sync: the beat entry and one run per audience."""

from __future__ import annotations

import logging

from celery import shared_task

from omnichannel.audiences import services
from omnichannel.audiences.models import Audience, SyncRun

logger = logging.getLogger(__name__)

#: Wait before retrying an erasure whose audience is busy with another run.
BUSY_RETRY_SECONDS = 60


@shared_task(name="omnichannel.audiences.sync_due_audiences", ignore_result=True)
def sync_due_audiences() -> int:
    """Queue a run for every audience that is due; return how many were queued."""
    due = services.claim_due_audiences()
    for audience_id, removals_only in due:
        sync_audience.delay(
            audience_id, SyncRun.Trigger.SCHEDULE, removals_only=removals_only
        )
    if due:
        logger.info("Queued %d ad audience syncs", len(due))
    return len(due)


@shared_task(
    bind=True,
    name="omnichannel.audiences.sync_audience",
    ignore_result=True,
    max_retries=5,
    # A run is resumable, so a run lost with its worker is simply delivered again.
    acks_late=True,
    reject_on_worker_lost=True,
)
def sync_audience(
    self: object,
    audience_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    removals_only: bool = False,
) -> str:
    """Sync one audience; return the run's status.

    Erasure runs are retried by Celery when the audience is busy or the platform
    requests a wait, because they must not wait for the next schedule. Other runs
    leave retries to the schedule, which backs off after failures.
    """
    try:
        run = services.sync_audience(audience_id, trigger, removals_only=removals_only)
    except Audience.DoesNotExist:
        logger.warning("Audience %s was deleted before its sync ran", audience_id)
        return "missing"
    request = self.request  # type: ignore[attr-defined]
    wants_retry = trigger == SyncRun.Trigger.ERASURE and not request.is_eager
    if run is None:
        if wants_retry:
            raise self.retry(countdown=BUSY_RETRY_SECONDS)  # type: ignore[attr-defined]
        return "busy"
    if run.retry_after is not None and wants_retry:
        raise self.retry(countdown=run.retry_after)  # type: ignore[attr-defined]
    return run.status
