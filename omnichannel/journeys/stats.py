"""Counts per journey step for the admin."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count

from omnichannel.journeys.models import Enrollment, Journey, StepRun


def step_counts(journey: Journey) -> dict[str, dict[str, int]]:
    """Return, per step key: entered, waiting, sent, skipped, exited, converted."""
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            ("entered", "waiting", "sent", "skipped", "exited", "converted"), 0
        )
    )
    runs = (
        StepRun.objects.filter(journey=journey)
        .values("step_key", "outcome")
        .annotate(n=Count("enrollment", distinct=True))
        .order_by()
    )
    for row in runs:
        key, outcome, n = row["step_key"], row["outcome"], row["n"]
        if outcome in (StepRun.Outcome.ENTERED, StepRun.Outcome.DONE):
            counts[key]["entered"] = max(counts[key]["entered"], n)
        elif outcome == StepRun.Outcome.SENT:
            counts[key]["sent"] += n
        elif outcome in (StepRun.Outcome.SKIPPED,):
            counts[key]["skipped"] += n
        elif outcome == StepRun.Outcome.EXITED:
            counts[key]["exited"] += n
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
    """Return how many messages were not sent, per reason code."""
    rows = (
        StepRun.objects.filter(
            journey=journey,
            outcome__in=(StepRun.Outcome.SKIPPED, StepRun.Outcome.DEFERRED),
        )
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return {row["reason"]: row["n"] for row in rows}
