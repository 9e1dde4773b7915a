"""Walk one customer through a journey without sending or keeping anything."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from omnichannel.journeys.engine import advance
from omnichannel.journeys.models import Enrollment, Journey
from omnichannel.profiles.models import Profile

MAX_DRY_RUN_STEPS = 200


@dataclass(frozen=True)
class DryRunStep:
    """One line of a dry run: when, which step, what happened and why."""

    at: datetime
    step_key: str
    step_type: str
    outcome: str
    reason: str
    details: dict


class _Rollback(Exception):
    pass


def dry_run(
    journey: Journey,
    profile: Profile,
    *,
    start: datetime | None = None,
    horizon: timedelta = timedelta(days=60),
) -> list[DryRunStep]:
    """Return the path ``profile`` would take through the published version.

    Time jumps from one wait to the next, up to ``horizon`` after ``start``. Guards
    that read live data (consent, quiet hours, goals) are checked as they stand now.
    Nothing is sent and every row written is rolled back.
    """
    if journey.current_version_id is None:
        raise ValueError("Publish the journey before a dry run.")
    start = start or timezone.now()
    steps: list[DryRunStep] = []
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                journey=journey,
                version=journey.current_version,
                profile=profile,
                # A key of its own keeps the dry run clear of the customer's real runs.
                object_type="dry_run",
                object_id=uuid.uuid4().hex,
                current_step=journey.current_version.graph["start"],
                step_entered_at=start,
                next_run_at=start,
                entered_at=start,
                last_trigger_at=start,
                context={"dry_run": True, "trigger": {"type": "dry_run"}},
            )
            now = start
            for _ in range(MAX_DRY_RUN_STEPS):
                journey.status = Journey.Status.ACTIVE
                enrollment.journey = journey
                advance(enrollment, now)
                enrollment.refresh_from_db()
                if enrollment.status != Enrollment.Status.ACTIVE:
                    break
                if enrollment.next_run_at is None or enrollment.next_run_at > (
                    start + horizon
                ):
                    break
                now = max(now, enrollment.next_run_at)
            steps = [
                DryRunStep(
                    at=run.at,
                    step_key=run.step_key,
                    step_type=run.step_type,
                    outcome=run.outcome,
                    reason=run.reason,
                    details=run.details,
                )
                for run in enrollment.step_runs.order_by("at", "id")
            ]
            raise _Rollback
    except _Rollback:
        pass
    return steps
