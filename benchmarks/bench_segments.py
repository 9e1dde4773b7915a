"""Segment membership, each figure beside a reference measured in the same run.

* rebuild: ``rebuild_segment`` of a three-condition segment whose members are
  current, against one hand-written SQL statement that selects the same profile ids.
  The conditions are: total spent at least 500, no visit in the last 30 days, and
  viewed the category Winter Jackets at least twice in the last 365 days (about one
  profile in a hundred matches all three);
* incremental update: ``refresh_profile`` of one profile after one new event, p95
  over ``SAMPLES`` profiles, against the p95 of reading one profile by primary key;
* queries of an incremental update: the most that any sampled update ran, against the
  number of active segments (one query per segment would match it).

PostgreSQL only. The standard data set of ``benchmarks.dataset`` (``customers``
profiles, ten events each, seeded) is generated in a database of its own (the
settings' test database), created and dropped by this script.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from benchmarks.common import Result, best_of, percentile, setup_django
from benchmarks.dataset import NOW, generate

SAMPLES = 300
SEGMENT_RULE = {
    "all": [
        {"type": "aggregate", "measure": "total_spent", "op": "gte", "value": 500},
        {
            "type": "aggregate",
            "measure": "days_since_last_visit",
            "op": "gt",
            "value": 30,
        },
        {
            "type": "event",
            "event": "category_viewed",
            "where": [{"property": "category", "op": "eq", "value": "Winter Jackets"}],
            "count": {"op": "gte", "value": 2},
            "within": {"value": 365, "unit": "days"},
        },
    ]
}
REFERENCE_SQL = """
    SELECT p.id FROM omnichannel_profile p
    WHERE p.merged_into_id IS NULL AND p.erased_at IS NULL
      AND p.total_spent >= 500
      AND p.last_seen_at <= %(last_visit)s
      AND p.id IN (
          SELECT e.profile_id FROM omnichannel_event e
          WHERE e.name = 'category_viewed'
            AND e.occurred_at >= %(since)s AND e.occurred_at <= %(now)s
            AND e.properties ->> 'category' = 'Winter Jackets'
          GROUP BY e.profile_id
          HAVING count(*) >= 2
      )
"""


@contextmanager
def isolated_database() -> Any:
    """Create the settings' test database, run the block on it, then drop it."""
    from django.db import connection

    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


def reference_ids() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            REFERENCE_SQL,
            {
                "now": NOW,
                "since": NOW - timedelta(days=365),
                "last_visit": NOW - timedelta(days=31),
            },
        )
        return [row[0] for row in cursor.fetchall()]


def measure_rebuild(customers: int) -> Result:
    from omnichannel.segments.membership import rebuild_segment
    from omnichannel.segments.models import Segment, SegmentMembership

    segment = Segment(
        name="Lapsed jacket fans", slug="lapsed-jacket-fans", rules=SEGMENT_RULE
    )
    segment._rebuild_on_save = False
    segment.save()
    rebuild_segment(segment, NOW)
    members = set(
        SegmentMembership.objects.filter(
            segment=segment, exited_at__isnull=True
        ).values_list("profile_id", flat=True)
    )
    expected = set(reference_ids())
    if members != expected:
        raise AssertionError(
            f"The rebuild found {len(members)} members, the reference {len(expected)}."
        )
    rebuild = best_of(lambda: rebuild_segment(segment, NOW))
    reference = best_of(reference_ids)
    return Result(
        name="segments: rebuild, 3 conditions, members current",
        value=rebuild,
        unit="s",
        reference_value=reference,
        target="ratio<=1.5",
        customers=customers,
        reference="one hand-written SELECT of the same profile ids",
        note=f"{len(members)} members",
    )


def measure_incremental(customers: int) -> list[Result]:
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omnichannel.profiles.models import Event, Profile
    from omnichannel.segments.membership import refresh_profile
    from omnichannel.segments.models import Segment

    call_command(
        "omnichannel_install_segments",
        "--no-rebuild",
        "--rebuild-every",
        "0",
        verbosity=0,
        stdout=_Discard(),
    )
    segments = Segment.objects.filter(is_active=True).count()
    rng = random.Random(4)
    ids = list(Profile.objects.values_list("pk", flat=True)[: max(customers, 1)])
    sample = rng.sample(ids, min(SAMPLES, len(ids)))
    refresh_profile(sample[0], "category_viewed", fields=["last_seen_at"], now=NOW)

    timings, reads, queries = [], [], []
    for profile_id in sample:
        Event.objects.create(
            profile_id=profile_id,
            name="category_viewed",
            occurred_at=NOW,
            properties={"category": "Winter Jackets"},
        )
        Profile.objects.filter(pk=profile_id).update(last_seen_at=NOW)
        started = time.perf_counter()
        refresh_profile(profile_id, "category_viewed", fields=["last_seen_at"], now=NOW)
        timings.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        Profile.objects.filter(pk=profile_id).first()
        reads.append((time.perf_counter() - started) * 1000)
    for profile_id in sample[:50]:
        with CaptureQueriesContext(connection) as captured:
            refresh_profile(
                profile_id, "category_viewed", fields=["last_seen_at"], now=NOW
            )
        queries.append(len(captured))
    return [
        Result(
            name="segments: incremental update p95",
            value=percentile(timings, 0.95),
            unit="ms",
            reference_value=percentile(reads, 0.95),
            target="<=20",
            customers=customers,
            reference="p95 of reading one profile by primary key",
            note=f"{len(sample)} profiles, {segments} active segments",
        ),
        Result(
            name="segments: queries per incremental update",
            value=max(queries),
            unit="queries",
            reference_value=segments,
            target="<=8",
            customers=customers,
            reference="active segments",
        ),
    ]


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def run(customers: int) -> list[Result]:
    setup_django()
    from django.db import connection

    import tests.celery_app  # noqa: F401  (run Celery tasks in this process)

    if connection.vendor != "postgresql":
        raise RuntimeError(
            "bench_segments needs PostgreSQL; set DATABASE_URL, for example "
            "postgres://postgres@127.0.0.1:5432/test."
        )
    with isolated_database():
        generate(customers)
        results = [measure_rebuild(customers)]
        results += measure_incremental(customers)
    return results
