"""Journey engine throughput: two worker processes walking enrollments through a
wait and a send step, against a bare bulk insert of the same Delivery rows.

Each enrollment is due at its wait step; a worker runs ``run_due`` with
``ENGINE_BATCH_SIZE``, as the ``tick`` task does, until nothing is due. A batch
finishes the wait, writes the Delivery rows and hands them to
``dispatch_deliveries_task`` after commit, which Celery runs in the same process
(eager mode, as in the test settings): the send-time checks, rendering and the
on-site channel, which needs no consent and no network, then the outcome. The
figure is step executions per second in total (two per enrollment). The
reference is ``bulk_create`` of as many Delivery rows of the same shape, in one
process, in the same run. After the run, every delivery must be ``sent`` once.

Profiles and enrollments are written with ``INSERT ... SELECT`` over
``generate_series``, so seeding 100,000 of them takes seconds.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime, timedelta
from typing import Any

from benchmarks.common import Result, isolated_database

#: The requirement measures 100,000 enrollments; smaller sizes use one per customer.
MAX_ENROLLMENTS = 100_000
WORKERS = 2
STEPS_PER_ENROLLMENT = 2
REFERENCE_CHUNK = 5_000


def _worker(now_iso: str, queue: multiprocessing.Queue) -> None:
    from django.db import connections

    from omnichannel.conf import app_settings
    from omnichannel.journeys.engine import run_due

    connections.close_all()
    now = datetime.fromisoformat(now_iso)
    done = 0
    while True:
        advanced = run_due(now, batch_size=app_settings.ENGINE_BATCH_SIZE)
        done += advanced
        if not advanced:
            break
    queue.put(done)


def _prepare(count: int) -> tuple[datetime, Any, Any]:
    """Create the journey and template, then ``count`` profiles each enrolled at
    its wait step, due now."""
    from django.db import connection
    from django.utils import timezone

    from omnichannel.channels.models import MessageTemplate
    from omnichannel.journeys.models import Journey
    from omnichannel.journeys.services import publish

    template = MessageTemplate.objects.create(
        name="Bench",
        slug="bench-onsite",
        channel="onsite",
        subject="Hello",
        body="Hello {{ first_name }}",
        recommendation_count=0,
    )
    journey = Journey.objects.create(
        name="Bench",
        slug="bench",
        trigger_type="manual",
        draft_graph={
            "start": "wait",
            "steps": {
                "wait": {"type": "wait", "duration": "PT1H", "next": "send"},
                "send": {
                    "type": "send",
                    "channel": "onsite",
                    "template": "bench-onsite",
                },
            },
        },
    )
    version = publish(journey)
    now = timezone.now()
    started = now - timedelta(hours=1)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO omnichannel_profile
                (uuid, created_at, updated_at, email, phone, first_name, last_name,
                 time_zone, country, language, attributes, tags, order_count,
                 total_spent, average_order_value, currency)
            SELECT gen_random_uuid(), %(now)s, %(now)s, '', '', 'C' || n, '', '',
                   '', '', '{}'::jsonb, '[]'::jsonb, 0, 0, 0, ''
            FROM generate_series(1, %(count)s) AS n
            """,
            {"now": now, "count": count},
        )
        cursor.execute(
            """
            INSERT INTO omnichannel_enrollment
                (journey_id, version_id, profile_id, object_type, object_id, status,
                 current_step, step_entered_at, next_run_at, entered_at,
                 last_trigger_at, exit_reason, context, updated_at)
            SELECT %(journey)s, %(version)s, id, '', '', 'active', 'wait',
                   %(started)s, %(started)s, %(started)s, %(started)s, '',
                   '{}'::jsonb, %(started)s
            FROM omnichannel_profile ORDER BY id
            """,
            {"journey": journey.pk, "version": version.pk, "started": started},
        )
        cursor.execute("ANALYZE omnichannel_profile")
        cursor.execute("ANALYZE omnichannel_enrollment")
    return now, journey, template


def _bulk_insert_reference(journey: Any, template: Any) -> float:
    """Time ``bulk_create`` of one Delivery row per enrollment, shaped like the
    rows the send step writes; return the seconds spent inserting."""
    from django.db import connection

    from omnichannel.channels.models import Delivery
    from omnichannel.journeys.models import Enrollment

    runs = list(Enrollment.objects.order_by("pk").values_list("pk", "profile_id"))
    elapsed = 0.0
    for start in range(0, len(runs), REFERENCE_CHUNK):
        rows = [
            Delivery(
                profile_id=profile_id,
                channel="onsite",
                template=template,
                dedupe_key=f"reference:{enrollment_id}:send:1",
                context={
                    "journey": journey.slug,
                    "journey_id": journey.pk,
                    "enrollment_id": enrollment_id,
                },
                source_type="bench",
                source_id=str(enrollment_id),
                step_key="send",
            )
            for enrollment_id, profile_id in runs[start : start + REFERENCE_CHUNK]
        ]
        began = time.perf_counter()
        Delivery.objects.bulk_create(rows, batch_size=REFERENCE_CHUNK)
        elapsed += time.perf_counter() - began
    # Deleted in one statement, because the ORM's delete() loads every row first.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM omnichannel_delivery WHERE source_type = %s", ["bench"]
        )
    return elapsed


def _run_workers(now: datetime) -> tuple[int, float]:
    """Start the workers and wait for them; return (enrollments advanced, seconds)."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = context.Queue()
    start = time.perf_counter()
    workers = [
        context.Process(target=_worker, args=(now.isoformat(), queue))
        for _ in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    advanced = sum(queue.get() for _ in workers)
    for worker in workers:
        worker.join()
    return advanced, time.perf_counter() - start


def _check_outcome(count: int) -> dict[str, int]:
    """Count the outcome; raise AssertionError unless every run sent exactly once."""
    from django.db.models import Count

    from omnichannel.channels.models import Delivery, OnsiteMessage
    from omnichannel.journeys.models import Enrollment

    figures = {
        "deliveries": Delivery.objects.filter(source_type="journey").count(),
        "sent": Delivery.objects.filter(source_type="journey", status="sent").count(),
        "messages": OnsiteMessage.objects.count(),
        "completed": Enrollment.objects.filter(status="completed").count(),
        "duplicates": Delivery.objects.values("source_id", "step_key")
        .annotate(copies=Count("id"))
        .filter(copies__gt=1)
        .count(),
    }
    expected = {
        "deliveries": count,
        "sent": count,
        "messages": count,
        "completed": count,
        "duplicates": 0,
    }
    if figures != expected:
        raise AssertionError(f"the run did not send each message once: {figures}")
    return figures


def run(customers: int) -> list[Result]:
    count = min(customers, MAX_ENROLLMENTS)
    with isolated_database():
        now, journey, template = _prepare(count)
        reference = _bulk_insert_reference(journey, template)
        advanced, elapsed = _run_workers(now)
        figures = _check_outcome(count)
    steps = advanced * STEPS_PER_ENROLLMENT
    note = (
        f"{count} enrollments, {WORKERS} processes, {figures['sent']} deliveries "
        f"sent, {figures['duplicates']} duplicates"
    )
    return [
        Result(
            name="journey steps per second (2 workers)",
            value=round(steps / elapsed, 1),
            unit="steps/s",
            reference_value=round(count / reference, 1),
            reference="bulk insert of the same Delivery rows, rows/s",
            target=">=2000",
            customers=customers,
            note=note,
        ),
        Result(
            name="journey run time vs bulk insert",
            value=round(elapsed, 3),
            unit="s",
            reference_value=round(reference, 3),
            reference="bulk insert of the same Delivery rows",
            target="ratio<=20",
            customers=customers,
            note=note,
        ),
    ]
