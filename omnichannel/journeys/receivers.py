"""Connect the journey engine to events, segment changes and predictions."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from omnichannel.profiles.signals import event_tracked
from omnichannel.segments.signals import segment_entered, segment_exited

logger = logging.getLogger(__name__)


@receiver(event_tracked, dispatch_uid="omnichannel-journeys-event")
def on_event(sender: Any, event: Any, profile: Any, **kwargs: Any) -> None:
    # Runs inside the transaction that stored the event, so an order ends an
    # abandoned-cart run in the order's own transaction.
    from omnichannel.journeys.engine import handle_event

    handle_event(event)


def _enroll_for_segment(trigger_type: str, segment: Any, profile: Any, at: Any) -> None:
    from omnichannel.journeys.engine import enroll
    from omnichannel.journeys.models import Journey

    journeys = Journey.objects.filter(
        status=Journey.Status.ACTIVE,
        trigger_type=trigger_type,
        trigger_config__segment=segment.slug,
    ).select_related("current_version")
    for journey in journeys:
        enroll(
            journey,
            profile,
            at=at or timezone.now(),
            trigger={"type": trigger_type, "segment": segment.slug},
        )


@receiver(segment_entered, dispatch_uid="omnichannel-journeys-segment-entered")
def on_segment_entered(
    sender: Any, segment: Any, profile: Any, at: Any = None, **kwargs: Any
) -> None:
    _enroll_for_segment("segment_entered", segment, profile, at)


@receiver(segment_exited, dispatch_uid="omnichannel-journeys-segment-exited")
def on_segment_exited(
    sender: Any, segment: Any, profile: Any, at: Any = None, **kwargs: Any
) -> None:
    _enroll_for_segment("segment_exited", segment, profile, at)
