"""Celery tasks of the segments domain.

Route them to their own queue with ``CELERY_TASK_ROUTES = {"omnichannel.segments.*":
{"queue": "segments"}}`` so segment work never delays sending.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="omnichannel.segments.refresh_profile", ignore_result=True)
def refresh_profile_task(
    profile_id: int,
    event: str | None = None,
    fields: list[str] | None = None,
    sources: list[str] | None = None,
) -> int:
    """Re-evaluate one profile for the segments a change can affect; return the
    number of membership changes."""
    from omnichannel.segments.membership import refresh_profile

    return len(refresh_profile(profile_id, event, fields=fields, sources=sources))


@shared_task(name="omnichannel.segments.refresh_profiles", ignore_result=True)
def refresh_profiles_task(changes: list[list[Any]]) -> int:
    """Re-evaluate the profiles of a batch of events; return the membership changes.

    Each item of ``changes`` is ``[profile_id, event_names, fields]``, as
    ``schedule_refreshes`` in the segments receivers queues it.
    """
    from omnichannel.segments.membership import refresh_profile

    total = 0
    # NOTE: an error on one profile fails the task and leaves the profiles after
    # it stale until a later change or a rebuild of the segment refreshes them.
    for profile_id, events, fields in changes:
        total += len(refresh_profile(profile_id, events=events, fields=fields))
    logger.info(
        "refreshed %d profiles after a batch of events: %d membership changes",
        len(changes),
        total,
    )
    return total


@shared_task(name="omnichannel.segments.rebuild_segment", ignore_result=True)
def rebuild_segment_task(segment_id: int) -> dict[str, Any]:
    """Rebuild one segment and the segments that read it."""
    from omnichannel.segments.membership import rebuild_segments
    from omnichannel.segments.models import Segment

    slug = Segment.objects.filter(pk=segment_id).values_list("slug", flat=True).first()
    if slug is None:
        logger.warning("segment %s no longer exists; nothing to rebuild", segment_id)
        return {}
    changes = rebuild_segments([slug])
    return {key: [len(c.entered), len(c.exited)] for key, c in changes.items()}


@shared_task(name="omnichannel.segments.rebuild_periodic", ignore_result=True)
def rebuild_periodic_segments() -> dict[str, Any]:
    """Rebuild the segments whose rules read the clock or batch scores.

    Run it from celery beat: "no order in 30 days" becomes true with no event at all.
    """
    from omnichannel.segments.membership import rebuild_segments

    changes = rebuild_segments(periodic_only=True)
    logger.info("periodic rebuild of %d segments", len(changes))
    return {key: [len(c.entered), len(c.exited)] for key, c in changes.items()}
