"""Journey engine throughput: two worker processes walking enrollments through a
wait and a send step, against a bare bulk insert of the same Delivery rows.

Each enrollment is due at its wait step; a worker runs ``run_due``, which finishes
the wait, writes the Delivery row and dispatches it after commit (the on-site
channel, which needs no consent and no network). The figure is step executions per
second in total; the reference is ``bulk_create`` of the same number of Delivery
rows in one process, in the same run.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta

from benchmarks.common import Result, isolated_database

MAX_ENROLLMENTS = 20_000
WORKERS = 2
STEPS_PER_ENROLLMENT = 2


def _worker(now_iso: str, queue: multiprocessing.Queue) -> None:
    from datetime import datetime

    from django.db import connections

    from omnichannel.journeys.engine import run_due

    connections.close_all()
    now = datetime.fromisoformat(now_iso)
    done = 0
    while True:
        advanced = run_due(now, batch_size=200, max_batches=10)
        done += advanced
        if not advanced:
            break
    queue.put(done)


def _prepare(count: int):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from omnichannel.channels.models import MessageTemplate
    from omnichannel.journeys.models import Enrollment, Journey
    from omnichannel.journeys.services import publish
    from omnichannel.profiles.models import Profile

    MessageTemplate.objects.create(
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
    profiles = Profile.objects.bulk_create(
        [Profile(first_name=f"C{i}") for i in range(count)], batch_size=5000
    )
    started = now - timedelta(hours=1)
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                journey=journey,
                version=version,
                profile=profile,
                current_step="wait",
                step_entered_at=started,
                next_run_at=started,
                entered_at=started,
                last_trigger_at=started,
            )
            for profile in profiles
        ],
        batch_size=5000,
    )
    return now, profiles


def _bulk_insert_reference(profiles) -> float:  # type: ignore[no-untyped-def]
    from omnichannel.channels.models import Delivery, MessageTemplate

    template = MessageTemplate.objects.get(slug="bench-onsite")
    rows = [
        Delivery(
            profile=profile,
            channel="onsite",
            template=template,
            dedupe_key=f"reference:{profile.pk}",
            source_type="bench",
        )
        for profile in profiles
    ]
    start = time.perf_counter()
    Delivery.objects.bulk_create(rows, batch_size=5000)
    elapsed = time.perf_counter() - start
    Delivery.objects.filter(source_type="bench").delete()
    return elapsed


def run(customers: int) -> list[Result]:
    from django.db import connections

    from omnichannel.channels.models import Delivery

    count = min(customers, MAX_ENROLLMENTS)
    with isolated_database():
        now, profiles = _prepare(count)
        reference = _bulk_insert_reference(profiles)
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
        elapsed = time.perf_counter() - start
        sent = Delivery.objects.filter(source_type="journey").count()
        duplicates = sent - Delivery.objects.values("dedupe_key").distinct().count()
    steps = advanced * STEPS_PER_ENROLLMENT
    note = (
        f"{count} enrollments, {WORKERS} processes, {sent} deliveries, "
        f"{duplicates} duplicates"
    )
    return [
        Result(
            name="journey steps per second (2 workers)",
            value=round(steps / elapsed, 1),
            unit="steps/s",
            reference_value=round(count / reference, 1),
            reference="bulk insert of the same Delivery rows, rows/s",
            target=">=2000",
            customers=count,
            note=note,
        ),
        Result(
            name="journey run time vs bulk insert",
            value=round(elapsed, 3),
            unit="s",
            reference_value=round(reference, 3),
            reference="bulk insert of the same Delivery rows",
            target="ratio<=20",
            customers=count,
            note=note,
        ),
    ]
