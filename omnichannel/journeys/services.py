"""Publishing and controlling journeys."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from omnichannel.exceptions import EnrollmentRefused
from omnichannel.journeys.graph import validate_graph
from omnichannel.journeys.models import (
    Enrollment,
    Journey,
    JourneyVersion,
    ReentryPolicy,
    TriggerType,
)
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)


def validate_trigger(journey: Journey) -> None:
    """Raise InvalidGraph unless the trigger settings fit the trigger type."""
    from omnichannel.journeys.graph import InvalidGraph

    config = journey.trigger_config or {}
    if journey.trigger_type == TriggerType.EVENT:
        from omnichannel.profiles.events import known_event_types

        if config.get("event") not in known_event_types():
            raise InvalidGraph(
                "trigger_config.event", f"{config.get('event')!r} is not an event type."
            )
    elif journey.trigger_type in (
        TriggerType.SEGMENT_ENTERED,
        TriggerType.SEGMENT_EXITED,
    ):
        from omnichannel.segments.models import Segment

        if not Segment.objects.filter(slug=config.get("segment")).exists():
            raise InvalidGraph(
                "trigger_config.segment",
                f"{config.get('segment')!r} is not the slug of a segment.",
            )
    elif journey.trigger_type == TriggerType.DATE:
        if config.get("field") not in ("birthday", "first_order_at"):
            raise InvalidGraph(
                "trigger_config.field", "must be 'birthday' or 'first_order_at'."
            )
    elif journey.trigger_type == TriggerType.CHURN_RISK:
        threshold = config.get("threshold")
        if not isinstance(threshold, int | float) or not 0 < threshold < 1:
            raise InvalidGraph(
                "trigger_config.threshold", "must be a number between 0 and 1."
            )
    goal_events = (journey.goal or {}).get("events", [])
    if not isinstance(goal_events, list):
        raise InvalidGraph("goal.events", "must be a list of event types.")


def validate_templates(graph: dict[str, Any]) -> None:
    """Raise InvalidGraph unless every send step names a template of its channel.

    The graph itself is valid already. This checks it against the database, so a
    typo is caught when publishing, not as skipped sends weeks later.
    """
    from omnichannel.channels.models import MessageTemplate
    from omnichannel.journeys.graph import InvalidGraph

    wanted: list[tuple[str, str, str]] = []
    for key, step in (graph.get("steps") or {}).items():
        if step.get("type") == "send" and step.get("template"):
            wanted.append((f"steps.{key}.template", step["channel"], step["template"]))
        elif step.get("type") == "best_channel":
            for channel, slug in step["templates"].items():
                wanted.append((f"steps.{key}.templates.{channel}", channel, slug))
    if not wanted:
        return
    channels = dict(
        MessageTemplate.objects.filter(
            slug__in={slug for _path, _channel, slug in wanted}
        ).values_list("slug", "channel")
    )
    for path, channel, slug in wanted:
        if slug not in channels:
            raise InvalidGraph(
                path,
                f"there is no message template {slug!r}; create it or pick another.",
            )
        if channels[slug] != channel:
            raise InvalidGraph(
                path,
                f"the template {slug!r} is for {channels[slug]}, not {channel}.",
            )


def publish(
    journey: Journey, *, user: Any = None, activate: bool = True
) -> JourneyVersion:
    """Freeze the draft graph as a new version; runs in flight keep their version.

    Raises InvalidGraph when the graph, its trigger or a template it names is wrong.
    """
    validate_graph(journey.draft_graph)
    validate_trigger(journey)
    validate_templates(journey.draft_graph)
    with transaction.atomic():
        locked = Journey.objects.select_for_update().get(pk=journey.pk)
        number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = JourneyVersion.objects.create(
            journey=locked,
            number=number,
            graph=locked.draft_graph,
            published_by=user if getattr(user, "pk", None) else None,
        )
        locked.current_version = version
        if activate and locked.status in (Journey.Status.DRAFT, Journey.Status.PAUSED):
            locked.status = Journey.Status.ACTIVE
        locked.save(update_fields=["current_version", "status", "updated_at"])
    journey.refresh_from_db()
    logger.info("published journey %s as version %d", journey.pk, number)
    return version


def set_status(journey: Journey, status: str) -> None:
    """Pause, resume or archive a journey. Archiving ends the runs in flight."""
    from django.utils import timezone

    from omnichannel.journeys.engine import clear_interest_cache, finish

    if status == Journey.Status.ACTIVE and journey.current_version_id is None:
        raise ValueError("Publish the journey before activating it.")
    with transaction.atomic():
        Journey.objects.filter(pk=journey.pk).update(status=status)
        clear_interest_cache()
        journey.status = status
        if status == Journey.Status.ARCHIVED:
            now = timezone.now()
            for enrollment in journey.enrollments.filter(
                status=Enrollment.Status.ACTIVE
            ).select_related("journey", "version", "profile"):
                finish(enrollment, Enrollment.Status.EXITED, "journey_archived", at=now)


def start_enrollment(
    journey: Journey,
    profile: Profile,
    *,
    data: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    object_type: str = "",
    object_id: str = "",
    source: str = "api",
    at: datetime | None = None,
) -> tuple[Enrollment, bool]:
    """Enroll ``profile`` in a journey triggered by code or the API.

    Returns the run and whether this call started it. A call repeating an
    ``idempotency_key`` of the journey returns the run that key started. Raises
    EnrollmentRefused, whose ``reason`` is a stable code, and ValueError for bad
    ``data``.
    """
    from omnichannel.journeys.engine import enroll
    from omnichannel.profiles.services import check_properties

    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not 0 < len(idempotency_key) <= 200:
            raise ValueError("idempotency_key must be 1 to 200 characters.")
        earlier = _run_of_key(journey, profile, idempotency_key)
        if earlier is not None:
            return earlier, False
    _check_can_enroll(journey, profile)
    data = dict(data or {})
    check_properties(data)

    enrollment = enroll(
        journey,
        profile,
        at=at or timezone.now(),
        object_type=object_type,
        object_id=object_id,
        trigger={"type": source},
        data=data,
        idempotency_key=idempotency_key,
    )
    if enrollment is not None:
        return enrollment, True
    if idempotency_key is not None:
        # Another call with the same key won the race.
        earlier = _run_of_key(journey, profile, idempotency_key)
        if earlier is not None:
            return earlier, False
    active = Enrollment.objects.filter(
        journey=journey, profile=profile, status=Enrollment.Status.ACTIVE
    )
    if journey.keyed_by_object:
        active = active.filter(object_type=object_type, object_id=str(object_id))
    if active.exists():
        raise EnrollmentRefused(
            "already_enrolled",
            f"The customer is already in journey {journey.slug!r}; a run in "
            "progress is never started twice.",
        )
    raise EnrollmentRefused(
        "reentry_refused",
        f"Journey {journey.slug!r} does not let this customer in again (re-entry: "
        f"{journey.get_reentry_policy_display()}"
        + (
            f", {journey.reentry_days} days"
            if journey.reentry_policy == ReentryPolicy.AFTER_DAYS
            else ""
        )
        + ").",
    )


def _run_of_key(journey: Journey, profile: Profile, key: str) -> Enrollment | None:
    earlier = Enrollment.objects.filter(journey=journey, idempotency_key=key).first()
    if earlier is not None and earlier.profile_id != profile.pk:
        raise EnrollmentRefused(
            "idempotency_key_reused",
            f"The idempotency key {key!r} already started a run of journey "
            f"{journey.slug!r} for another customer; use a new key per call.",
        )
    return earlier


def _check_can_enroll(journey: Journey, profile: Profile) -> None:
    if profile.erased_at is not None:
        raise EnrollmentRefused(
            "profile_erased", "This profile was erased on request; it takes no runs."
        )
    if journey.trigger_type != TriggerType.MANUAL:
        raise EnrollmentRefused(
            "trigger_not_manual",
            f"Journey {journey.slug!r} starts on {journey.get_trigger_type_display()}, "
            "not on a call from code or the API; set its trigger to 'manual'.",
        )
    if journey.status == Journey.Status.PAUSED:
        raise EnrollmentRefused(
            "journey_paused",
            f"Journey {journey.slug!r} is paused; resume it in the admin first.",
        )
    if journey.status != Journey.Status.ACTIVE or journey.current_version_id is None:
        raise EnrollmentRefused(
            "journey_not_active",
            f"Journey {journey.slug!r} is {journey.get_status_display()}; publish "
            "and activate it first.",
        )
