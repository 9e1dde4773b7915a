"""Counts per journey step for the admin."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import CharField, Count, QuerySet
from django.db.models.functions import Cast

from omnichannel.channels.models import Delivery
from omnichannel.journeys.models import Enrollment, Journey, StepRun

#: Delivery states that mean the message was not sent and will not be.
NOT_SENT = tuple(
    status for status in Delivery.FINAL_STATUSES if status != Delivery.Status.SENT
)


def journey_deliveries(journey: Journey) -> QuerySet[Delivery]:
    """Return the Delivery rows written by the journey's send steps."""
    enrollment_ids = (
        Enrollment.objects.filter(journey=journey)
        .annotate(text_id=Cast("pk", CharField()))
        .values("text_id")
    )
    return Delivery.objects.filter(source_type="journey", source_id__in=enrollment_ids)


def step_counts(journey: Journey) -> dict[str, dict[str, int]]:
    """Return, per step key: entered, waiting, sent, skipped, exited, converted.

    A step's entries are the runs that reached it, whatever they did there. Sent and
    skipped count messages by their Delivery's outcome, because consent, quiet
    hours and caps are checked when the message is dispatched, after the step ran.
    Skipped also counts sends the step itself left out (a goal reached, say).
    """
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            ("entered", "waiting", "sent", "skipped", "exited", "converted"), 0
        )
    )
    runs = StepRun.objects.filter(journey=journey).order_by()
    for row in runs.values("step_key").annotate(n=Count("enrollment", distinct=True)):
        counts[row["step_key"]]["entered"] = row["n"]
    for row in (
        runs.filter(outcome__in=(StepRun.Outcome.SKIPPED, StepRun.Outcome.EXITED))
        .values("step_key", "outcome")
        .annotate(n=Count("enrollment", distinct=True))
    ):
        column = "skipped" if row["outcome"] == StepRun.Outcome.SKIPPED else "exited"
        counts[row["step_key"]][column] += row["n"]
    for row in (
        journey_deliveries(journey)
        .values("step_key", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        if row["status"] == Delivery.Status.SENT:
            counts[row["step_key"]]["sent"] += row["n"]
        elif row["status"] in NOT_SENT:
            counts[row["step_key"]]["skipped"] += row["n"]
    for row in (
        Enrollment.objects.filter(journey=journey)
        .values("current_step", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        key = row["current_step"]
        if row["status"] == Enrollment.Status.ACTIVE:
            counts[key]["waiting"] += row["n"]
        elif row["status"] == Enrollment.Status.CONVERTED:
            counts[key]["converted"] += row["n"]
        counts[key]["entered"] = max(
            counts[key]["entered"], counts[key]["waiting"] + counts[key]["exited"]
        )
    return dict(counts)


def unsent_reasons(journey: Journey) -> dict[str, int]:
    """Return how many messages were not sent, per reason code, most first.

    Reasons come from the steps (a goal reached, a deferral) and from the
    dispatch of each message (no consent, quiet hours, a cap, a provider error).
    """
    totals: dict[str, int] = defaultdict(int)
    for row in (
        StepRun.objects.filter(
            journey=journey,
            outcome__in=(StepRun.Outcome.SKIPPED, StepRun.Outcome.DEFERRED),
        )
        .values("reason")
        .annotate(n=Count("id"))
        .order_by()
    ):
        totals[row["reason"]] += row["n"]
    for row in (
        journey_deliveries(journey)
        .filter(status__in=NOT_SENT)
        .values("status", "reason")
        .annotate(n=Count("id"))
        .order_by()
    ):
        totals[row["reason"] or row["status"]] += row["n"]
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))
