"""Segment membership, each figure beside a reference measured in the same run.

* rebuild: ``rebuild_segment`` of a three-condition segment whose members are
  current, against one hand-written SQL statement that selects the same profile ids.
  The conditions are: total spent at least 500, no visit in the last 30 days, and
  viewed the category Winter Jackets at least twice in the last 90 days;
* incremental update: ``refresh_profile`` of one profile after one new event, p95
  over ``SAMPLES`` profiles, against the p95 of reading one profile by primary key;
* queries of an incremental update: the most that any sampled update ran, against the
  number of active segments (one query per segment would match it).

PostgreSQL only. ``customers`` profiles and ten times as many events are generated
with a fixed seed by ``INSERT ... SELECT`` over ``generate_series`` in a database of
its own (the settings' test database), created and dropped by this script.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import Result, best_of, percentile, setup_django

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("UTC"))
EVENTS_PER_CUSTOMER = 10
SAMPLES = 300
CATEGORIES = [
    "Winter Jackets",
    "Rain Jackets",
    "Boots",
    "Sneakers",
    "Scarves",
    "Gloves",
    "Hats",
    "Jeans",
    "Shirts",
    "Dresses",
    "Socks",
    "Bags",
    "Belts",
    "Sweaters",
    "Shorts",
    "Swimwear",
    "Sandals",
    "Watches",
    "Sunglasses",
    "Pyjamas",
]
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
            "within": {"value": 90, "unit": "days"},
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


def generate(customers: int) -> None:
    """Insert profiles and events with a fixed seed, then analyse the tables."""
    from django.db import connection

    categories = "ARRAY[" + ", ".join(f"'{name}'" for name in CATEGORIES) + "]"
    with connection.cursor() as cursor:
        # One process draws the numbers in order, so the seed fixes the data.
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT setseed(0.20261204)")
        cursor.execute(
            """
            INSERT INTO omnichannel_profile
                (uuid, created_at, updated_at, email, phone, first_name, last_name,
                 time_zone, country, language, attributes, tags, order_count,
                 total_spent, average_order_value, currency, first_order_at,
                 last_order_at, last_seen_at)
            SELECT gen_random_uuid(), %(now)s - make_interval(days => 400 + age),
                   %(now)s, '', '', '', '', '',
                   (ARRAY['DE', 'FR', 'GB', 'NL', 'AT'])[1 + floor(random() * 5)::int],
                   '', '{}'::jsonb, '[]'::jsonb, orders, spent,
                   CASE WHEN orders > 0 THEN round(spent / orders, 2) ELSE 0 END, 'EUR',
                   CASE WHEN orders > 0
                        THEN %(now)s - make_interval(days => 400 + age) END,
                   CASE WHEN orders > 0
                        THEN %(now)s - make_interval(secs => random() * 34560000)
                   END,
                   %(now)s - make_interval(secs => random() * 86400 * 120)
            FROM (
                SELECT floor(power(random(), 3) * 16)::int AS orders,
                       floor(random() * 300)::int AS age,
                       round((random() * 140 + 10)::numeric, 2) AS unit
                FROM generate_series(1, %(customers)s)
            ) AS drawn, LATERAL (SELECT drawn.orders * drawn.unit AS spent) AS money
            """,
            {"now": NOW, "customers": customers},
        )
        cursor.execute("SELECT min(id), max(id) FROM omnichannel_profile")
        first_id, last_id = cursor.fetchone()
        cursor.execute(
            f"""
            INSERT INTO omnichannel_event
                (profile_id, name, occurred_at, received_at, source, properties,
                 object_type, object_id, currency)
            SELECT %(first)s + floor(random() * %(count)s)::bigint,
                   CASE WHEN kind < 0.5 THEN 'page_viewed'
                        WHEN kind < 0.75 THEN 'product_viewed'
                        WHEN kind < 0.9 THEN 'category_viewed'
                        WHEN kind < 0.97 THEN 'cart_updated'
                        ELSE 'order_placed' END,
                   at, at, 'web',
                   CASE WHEN kind >= 0.5 AND kind < 0.9
                        THEN jsonb_build_object(
                            'category', ({categories})[1 + floor(random() * 20)::int],
                            'price', round((random() * 200)::numeric, 2))
                        ELSE '{{}}'::jsonb END,
                   '', '', ''
            FROM (
                SELECT random() AS kind,
                       %(now)s - make_interval(secs => random() * 86400 * 365) AS at
                FROM generate_series(1, %(events)s)
            ) AS drawn
            """,
            {
                "first": first_id,
                "count": last_id - first_id + 1,
                "now": NOW,
                "events": customers * EVENTS_PER_CUSTOMER,
            },
        )
        cursor.execute("ANALYZE omnichannel_profile")
        cursor.execute("ANALYZE omnichannel_event")


def reference_ids() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            REFERENCE_SQL,
            {
                "now": NOW,
                "since": NOW - timedelta(days=90),
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
