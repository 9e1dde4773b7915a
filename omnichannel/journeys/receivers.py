"""Connect the journey engine to events, segment changes and predictions."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from omnichannel.profiles.signals import events_tracked
from omnichannel.segments.signals import segment_entered, segment_exited

logger = logging.getLogger(__name__)


@receiver(
    post_save, sender="omnichannel.Journey", dispatch_uid="omnichannel-journey-saved"
)
@receiver(
    post_save,
    sender="omnichannel.JourneyVersion",
    dispatch_uid="omnichannel-version-saved",
)
def on_journey_saved(sender: Any, **kwargs: Any) -> None:
    from omnichannel.journeys.engine import clear_interest_cache

    clear_interest_cache()


@receiver(
    post_save,
    sender="omnichannel.Experiment",
    dispatch_uid="omnichannel-experiment-saved-journeys",
)
def on_experiment_saved(sender: Any, **kwargs: Any) -> None:
    """Let the next send see an experiment that started, paused or ended."""
    from omnichannel.journeys.experiments import clear_cache

    clear_cache()


@receiver(events_tracked, dispatch_uid="omnichannel-journeys-events")
def on_events(sender: Any, events: Any, **kwargs: Any) -> None:
    # Runs inside the transaction that stored the events, so an order ends an
    # abandoned-cart run in the order's own transaction.
    from omnichannel.journeys.engine import handle_events

    handle_events(events)


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


def churn_thresholds() -> list[float]:
    """Return the thresholds of active churn-risk journeys, for the scorer to watch."""
    from omnichannel.journeys.models import Journey, TriggerType

    values = Journey.objects.filter(
        status=Journey.Status.ACTIVE, trigger_type=TriggerType.CHURN_RISK
    ).values_list("trigger_config__threshold", flat=True)
    return [float(value) for value in values if isinstance(value, int | float)]


def on_churn_risk_crossed(
    sender: Any,
    profile: Any,
    previous: float,
    current: float,
    threshold: float,
    **kwargs: Any,
) -> None:
    """Enroll the customer in churn-risk journeys whose threshold was crossed upward."""
    from omnichannel.journeys.engine import enroll
    from omnichannel.journeys.models import Journey, TriggerType

    if current < threshold or previous >= threshold:
        return
    journeys = Journey.objects.filter(
        status=Journey.Status.ACTIVE, trigger_type=TriggerType.CHURN_RISK
    ).select_related("current_version")
    for journey in journeys:
        if float(journey.trigger_config.get("threshold", -1)) != float(threshold):
            continue
        enroll(
            journey,
            profile,
            at=timezone.now(),
            trigger={"type": "churn_risk", "threshold": threshold, "risk": current},
        )


def connect_predictions() -> None:
    from omnichannel.predictions import signals as prediction_signals

    prediction_signals.add_threshold_source(churn_thresholds)
    prediction_signals.churn_risk_crossed.connect(
        on_churn_risk_crossed, dispatch_uid="omnichannel-journeys-churn-risk"
    )


connect_predictions()
