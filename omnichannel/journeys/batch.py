"""Writing one claimed batch of enrollments in a few statements.

While ``run_due`` walks a claimed batch, the engine's writes go to a ``StepBatch``
instead of the database: step runs, journey events, new Delivery rows and the
enrollments' own fields. ``flush`` then writes each kind in one or two statements
and queues the new deliveries for one ``dispatch_deliveries_task`` after commit.
What the steps read for every enrollment (templates, frequency cap counts, goal
events) is read once per batch.

The batch is found through a context variable, so the step code stays the same
whether it runs in a batch or for one enrollment (a dry run, an event).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from omnichannel.db import bulk_update_rows, copy_insert
from omnichannel.journeys.models import Enrollment, StepRun
from omnichannel.profiles.models import Event, Profile

logger = logging.getLogger(__name__)

#: Enrollment fields the engine changes while advancing, written back by ``flush``.
ENROLLMENT_FIELDS = (
    "current_step",
    "step_entered_at",
    "next_run_at",
    "context",
    "status",
    "exit_reason",
    "ended_at",
    "updated_at",
)
#: Step types that write to the database themselves (profiles, offer codes) or
#: queue mail, so their enrollment advances inside a savepoint.
WRITING_STEP_TYPES = frozenset({"update_profile", "notify_staff"})

_current: ContextVar[StepBatch | None] = ContextVar(
    "omnichannel_step_batch", default=None
)


def current_batch() -> StepBatch | None:
    """Return the batch being advanced in this context, if any."""
    return _current.get()


@dataclass
class PendingDelivery:
    """A Delivery row to insert at flush, and where to note its id afterwards."""

    row: Any
    step_run: StepRun | None = None
    context_ids: list[int] | None = None


class StepBatch:
    """The buffered writes and the shared reads of one claimed batch."""

    def __init__(self, now: datetime, enrollments: Sequence[Enrollment]) -> None:
        self.now = now
        self.enrollments = {enrollment.pk: enrollment for enrollment in enrollments}
        self.step_runs: dict[int, list[StepRun]] = defaultdict(list)
        self.events: dict[int, list[Event]] = defaultdict(list)
        self.deliveries: dict[int, list[PendingDelivery]] = defaultdict(list)
        self.finished: list[Enrollment] = []
        self._templates: dict[tuple[str, str], Any] = {}
        self._cap_counts: dict[str, dict[int, int]] = {}
        self._goal_events: dict[int, list[tuple[str, str, str, datetime]]] | None = None

    @contextmanager
    def active(self) -> Iterator[StepBatch]:
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    def owns(self, enrollment: Enrollment) -> bool:
        return self.enrollments.get(enrollment.pk) is enrollment

    def discard(self, enrollment: Enrollment) -> None:
        """Forget what a failed enrollment buffered."""
        self.step_runs.pop(enrollment.pk, None)
        self.events.pop(enrollment.pk, None)
        self.deliveries.pop(enrollment.pk, None)
        self.finished = [e for e in self.finished if e.pk != enrollment.pk]

    # Shared reads

    def template(self, slug: str, channel: str) -> Any:
        """Return the message template of a send step, read once per batch."""
        from omnichannel.channels.models import MessageTemplate

        key = (slug, channel)
        if key not in self._templates:
            self._templates[key] = MessageTemplate.objects.filter(
                slug=slug, channel=channel
            ).first()
        return self._templates[key]

    def cap_reached(self, profile: Profile, channel: str) -> bool:
        """Apply ``FREQUENCY_CAPS`` as ``guards.frequency_cap_reached`` does, with
        the counts of every profile in the batch read in one query per channel."""
        from omnichannel.channels.models import Delivery
        from omnichannel.conf import app_settings

        cap = app_settings.FREQUENCY_CAPS.get(channel)
        if not cap:
            return False
        limit, period = cap
        if channel not in self._cap_counts:
            profile_ids = {e.profile_id for e in self.enrollments.values()}
            rows = (
                Delivery.objects.filter(
                    profile_id__in=profile_ids,
                    channel=channel,
                    status=Delivery.Status.SENT,
                    sent_at__gt=self.now - period,
                    sent_at__lte=self.now,
                )
                .values("profile_id")
                .annotate(sent=Count("id"))
                .values_list("profile_id", "sent")
            )
            self._cap_counts[channel] = dict(rows)
        return self._cap_counts[channel].get(profile.pk, 0) >= limit

    def goal_reached(self, enrollment: Enrollment) -> bool:
        """Tell whether a goal event of the journey happened since the run began,
        as ``engine._goal_query`` asks, from one query for the whole batch."""
        goal = enrollment.journey.goal or {}
        names = goal.get("events") or []
        if not names:
            return False
        if self._goal_events is None:
            self._load_goal_events()
        assert self._goal_events is not None
        same_object = goal.get("same_object") and enrollment.object_id
        for name, object_type, object_id, at in self._goal_events.get(
            enrollment.profile_id, []
        ):
            if name not in names or not enrollment.entered_at <= at <= self.now:
                continue
            if same_object and (object_type, object_id) != (
                enrollment.object_type,
                enrollment.object_id,
            ):
                continue
            return True
        return False

    def _load_goal_events(self) -> None:
        names: set[str] = set()
        profile_ids: set[int] = set()
        earliest = self.now
        for enrollment in self.enrollments.values():
            events = (enrollment.journey.goal or {}).get("events") or []
            if events:
                names.update(events)
                profile_ids.add(enrollment.profile_id)
                earliest = min(earliest, enrollment.entered_at)
        found: dict[int, list[tuple[str, str, str, datetime]]] = defaultdict(list)
        if names:
            rows = Event.objects.filter(
                profile_id__in=profile_ids,
                name__in=names,
                occurred_at__gte=earliest,
                occurred_at__lte=self.now,
            ).values_list(
                "profile_id", "name", "object_type", "object_id", "occurred_at"
            )
            for profile_id, *rest in rows:
                found[profile_id].append(tuple(rest))  # type: ignore[arg-type]
        self._goal_events = found

    # Buffered writes

    def add_step_run(self, run: StepRun) -> None:
        self.step_runs[run.enrollment_id].append(run)

    def add_event(self, enrollment: Enrollment, event: Event) -> None:
        self.events[enrollment.pk].append(event)

    def add_delivery(self, enrollment: Enrollment, pending: PendingDelivery) -> None:
        self.deliveries[enrollment.pk].append(pending)

    def flush(self) -> None:
        """Write the batch: deliveries, step runs, enrollments, then events.

        Runs inside the claiming transaction. A clash on a delivery key raises
        IntegrityError, which the engine answers by advancing the batch again one
        enrollment at a time.
        """
        created = self._insert_deliveries()
        copy_insert(StepRun, [run for runs in self.step_runs.values() for run in runs])
        now = timezone.now()
        for enrollment in self.enrollments.values():
            enrollment.updated_at = now
        bulk_update_rows(Enrollment, list(self.enrollments.values()), ENROLLMENT_FIELDS)
        self._store_events()
        if created:
            from omnichannel.channels.tasks import dispatch_deliveries_task

            transaction.on_commit(lambda: dispatch_deliveries_task.delay(created))
        from omnichannel.journeys import signals

        for enrollment in self.finished:
            signals.enrollment_finished.send(sender=Enrollment, enrollment=enrollment)

    def _insert_deliveries(self) -> list[int]:
        from omnichannel.channels.models import Delivery

        pending = [item for items in self.deliveries.values() for item in items]
        if not pending:
            return []
        keys = [item.row.dedupe_key for item in pending]
        existing = dict(
            Delivery.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", "pk")
        )
        fresh = [item for item in pending if item.row.dedupe_key not in existing]
        copy_insert(Delivery, [item.row for item in fresh])
        for item in pending:
            pk = existing.get(item.row.dedupe_key, item.row.pk)
            if item.step_run is not None:
                item.step_run.details["delivery_id"] = pk
            if item.context_ids is not None and pk not in item.context_ids:
                item.context_ids.append(pk)
        return [item.row.pk for item in fresh]

    def _store_events(self) -> None:
        """Insert the journey events and announce them, as ``track`` would.

        Journey events are passive, so they do not move ``last_seen_at``. An event
        whose idempotency key is stored already is skipped.
        """
        from omnichannel.profiles.services import announce_events

        events = [event for events in self.events.values() for event in events]
        if not events:
            return
        stored = set(
            Event.objects.filter(
                idempotency_key__in=[event.idempotency_key for event in events]
            ).values_list("idempotency_key", flat=True)
        )
        fresh = [event for event in events if event.idempotency_key not in stored]
        copy_insert(Event, fresh)
        # Receivers of these events may end or wake other runs. They must write
        # at once, not into this batch.
        token = _current.set(None)
        try:
            announce_events(fresh)
        finally:
            _current.reset(token)


def needs_savepoint(graph: dict[str, Any]) -> bool:
    """Tell whether a version has steps that write outside the batch."""
    for step in (graph.get("steps") or {}).values():
        if step.get("type") in WRITING_STEP_TYPES or step.get("offer"):
            return True
    return False
