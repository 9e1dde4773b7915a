"""Experiments and analytics, each beside a hand-written reference.

* assignment: ``assign_many`` over ``ASSIGNMENT_SAMPLE`` customers (all of them at
  smaller sizes, a seeded random sample at larger ones) against a bare bulk insert of
  the same Assignment rows,
* experiment results: ``experiment_results`` against one SQL statement that counts
  conversions and revenue per arm,
* attribution: ``attribute_orders`` against one SQL statement that finds each order's
  last click with a correlated subquery,
* lifecycle map: ``lifecycle_map`` against fetching the same event columns in the
  same order, which it cannot do without.

The customers are the profiles of the standard data set (``benchmarks.dataset``,
without its events); their visits, clicks and orders over eight weeks and the
assignment of the whole base that the results read are written in SQL with a fixed
seed. Everything lives in a database of its own (the test database name of the
settings), created and dropped by this script.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks import dataset
from benchmarks.common import Result, best_of, isolated_database, setup_django
from benchmarks.dataset import insert_select

UTC = ZoneInfo("UTC")
START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
DAYS = 56
SEED = 0.20261204
ASSIGNMENT_SAMPLE = 10_000


def generate(customers: int) -> dict[str, Any]:
    """Write profiles and a seeded event history in SQL; return the figures' data."""
    from django.db import connection

    from omnichannel.experiments.models import Experiment, Variant
    from omnichannel.profiles.models import Event

    dataset.generate_profiles(customers)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [SEED])
        # One visit per customer: the day and the draws that decide what followed.
        cursor.execute(
            """
            CREATE TEMPORARY TABLE bench_visit AS
            SELECT id AS profile_id,
                   %(start)s + make_interval(secs => random() * 86400 * %(days)s) AS at,
                   (ARRAY['email', 'search', 'social', 'pos', ''])
                       [1 + floor(random() * 5)::int] AS medium,
                   random() < 0.5 AS viewed, random() < 0.2 AS carted,
                   random() < 0.15 AS clicked, 1 + floor(random() * 5)::int AS journey,
                   random() < 0.08 AS ordered,
                   make_interval(secs => 86400 * (0.6 + random() * 5.4)) AS delay,
                   (500 + floor(random() * 11501)) / 100 AS revenue
            FROM omnichannel_profile ORDER BY id
            """,
            {"start": START, "days": DAYS},
        )
    visits = "FROM bench_visit WHERE {where} ORDER BY profile_id"
    kinds = [
        (
            "TRUE",
            {
                "name": "'page_viewed'",
                "occurred_at": "at",
                "source": "'web'",
                "properties": "jsonb_build_object('utm_medium', medium)",
            },
        ),
        (
            "viewed",
            {"name": "'product_viewed'", "occurred_at": "at + interval '864 seconds'"},
        ),
        (
            "carted",
            {"name": "'cart_updated'", "occurred_at": "at + interval '1728 seconds'"},
        ),
        (
            "clicked",
            {
                "name": "'message_clicked'",
                "occurred_at": "at + interval '12 hours'",
                "properties": "jsonb_build_object('journey_id', journey, "
                "'step_key', 'email-1')",
            },
        ),
        (
            "ordered",
            {
                "name": "'order_placed'",
                "occurred_at": "at + delay",
                "revenue": "revenue",
                "object_type": "'order'",
                "object_id": "'order-' || profile_id",
            },
        ),
    ]
    events = sum(
        insert_select(
            Event, {"profile_id": "profile_id", **columns}, visits.format(where=where)
        )
        for where, columns in kinds
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_visit")

    experiment = Experiment.objects.create(
        key="bench",
        name="bench",
        status=Experiment.Status.RUNNING,
        holdout_share=Decimal("0.1"),
        conversion_window=timedelta(days=7),
    )
    for key, control in (("a", True), ("b", False)):
        Variant.objects.create(experiment=experiment, key=key, is_control=control)
    return {"experiment": experiment, "events": events}


def assignment_sample(customers: int) -> list[int]:
    """Return ``ASSIGNMENT_SAMPLE`` profile ids (all up to that size), seeded."""
    from omnichannel.profiles.models import Profile

    ids = list(Profile.objects.order_by("pk").values_list("pk", flat=True))
    if len(ids) <= ASSIGNMENT_SAMPLE:
        return ids
    return sorted(random.Random(SEED).sample(ids, ASSIGNMENT_SAMPLE))


def assign_everyone(experiment: Any) -> None:
    """Assign every profile in SQL, with the experiment's holdout share, seeded."""
    from django.db import connection

    from omnichannel.experiments.models import Assignment

    first, second = experiment.variants.order_by("id").values_list("pk", flat=True)
    Assignment.objects.filter(experiment=experiment).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [SEED])
    insert_select(
        Assignment,
        {
            "experiment_id": "%(experiment)s",
            "profile_id": "id",
            "variant_id": "CASE WHEN draw < %(holdout)s THEN NULL "
            "WHEN draw < (1 + %(holdout)s) / 2 THEN %(first)s ELSE %(second)s END",
            "assigned_at": "%(start)s",
        },
        "FROM (SELECT id, random() AS draw FROM omnichannel_profile ORDER BY id) "
        "AS drawn",
        {
            "experiment": experiment.pk,
            "holdout": float(experiment.holdout_share),
            "first": first,
            "second": second,
            "start": START,
        },
    )


def bench_assignment(data: dict[str, Any], customers: int) -> Result:
    from omnichannel.experiments.assignment import assign_many
    from omnichannel.experiments.models import Assignment

    experiment = data["experiment"]
    ids = assignment_sample(customers)
    variants = list(experiment.variants.order_by("id"))

    def measured() -> None:
        Assignment.objects.filter(experiment=experiment).delete()
        assign_many(experiment, ids)

    def reference() -> None:
        Assignment.objects.filter(experiment=experiment).delete()
        Assignment.objects.bulk_create(
            (
                Assignment(
                    experiment=experiment, profile_id=pk, variant=variants[i % 2]
                )
                for i, pk in enumerate(ids)
            ),
            batch_size=1000,
        )

    reference_time = best_of(reference, repeat=2)
    value = best_of(measured, repeat=2)
    # The results figure reads an assignment of the whole base.
    assign_everyone(experiment)
    return Result(
        name=f"assign_many, {len(ids)} customers",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="bulk insert of the same Assignment rows",
        target="ratio<=3",
        customers=customers,
        note="every customer"
        if len(ids) == customers
        else f"a seeded random sample of {len(ids)} customers, because assign_many "
        "hashes each profile in Python; the same sample at every size",
    )


def bench_results(data: dict[str, Any], customers: int) -> Result:
    from django.db import connection

    from omnichannel.experiments.evaluation import experiment_results
    from omnichannel.experiments.models import Assignment
    from omnichannel.profiles.models import Event

    experiment = data["experiment"]
    assignment = connection.ops.quote_name(Assignment._meta.db_table)
    event = connection.ops.quote_name(Event._meta.db_table)
    window = "interval '7 days'" if connection.vendor == "postgresql" else None
    end = (
        f"a.assigned_at + {window}" if window else "datetime(a.assigned_at, '+7 days')"
    )
    sql = f"""
        SELECT a.variant_id, COUNT(*), COUNT(o.profile_id), COALESCE(SUM(o.total), 0)
        FROM {assignment} a
        LEFT JOIN LATERAL (
            SELECT e.profile_id, SUM(e.revenue) AS total FROM {event} e
            WHERE e.profile_id = a.profile_id AND e.name = 'order_placed'
              AND e.occurred_at >= a.assigned_at AND e.occurred_at <= {end}
            GROUP BY e.profile_id
        ) o ON TRUE
        WHERE a.experiment_id = %s
        GROUP BY a.variant_id
    """

    def reference() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [experiment.pk])
            cursor.fetchall()

    reference_time = best_of(reference)
    value = best_of(lambda: experiment_results(experiment))
    return Result(
        name="experiment results, 2 arms + holdout",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="one SQL statement: conversions and revenue per arm",
        target="ratio<=3",
        customers=customers,
    )


def bench_attribution(data: dict[str, Any], customers: int) -> Result:
    from django.db import connection

    from omnichannel.analytics.attribution import attribute_orders
    from omnichannel.profiles.models import Event

    event = connection.ops.quote_name(Event._meta.db_table)
    sql = f"""
        SELECT o.id, (
            SELECT c.id FROM {event} c
            WHERE c.profile_id = o.profile_id AND c.name = 'message_clicked'
              AND c.occurred_at <= o.occurred_at
              AND c.occurred_at >= o.occurred_at - interval '5 days'
            ORDER BY c.occurred_at DESC, c.id DESC LIMIT 1
        )
        FROM {event} o
        WHERE o.name = 'order_placed' AND o.occurred_at >= %s AND o.occurred_at < %s
    """
    end = START + timedelta(days=DAYS + 7)

    def reference() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [START, end])
            cursor.fetchall()

    reference_time = best_of(reference)
    value = best_of(lambda: attribute_orders(START, end, window=timedelta(days=5)))
    return Result(
        name="last-click attribution, all orders",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="one SQL statement with a correlated last-click subquery",
        target="ratio<=3",
        customers=customers,
    )


def bench_lifecycle(data: dict[str, Any], customers: int) -> Result:
    from omnichannel.analytics.lifecycle import PASSIVE_EVENTS, lifecycle_map
    from omnichannel.profiles.models import Event

    end = START + timedelta(days=DAYS)

    def reference() -> None:
        rows = (
            Event.objects.filter(occurred_at__lt=end)
            .exclude(name__in=PASSIVE_EVENTS)
            .order_by("profile_id", "occurred_at", "id")
            .values_list("profile_id", "id", "name", "occurred_at", "source")
        )
        for _ in rows.iterator(chunk_size=10_000):
            pass

    # One run each above 100k customers, where a run takes minutes.
    repeat = 2 if customers <= 100_000 else 1
    reference_time = best_of(reference, repeat=repeat)
    value = best_of(lambda: lifecycle_map(START, end), repeat=repeat)
    return Result(
        name="lifecycle map, 8 weeks",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="fetching the same event rows in the same order",
        target="ratio<=5",
        customers=customers,
        note=f"{data['events']} events; best of {repeat} runs",
    )


def run(customers: int) -> list[Result]:
    setup_django()
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise RuntimeError(
            "bench_experiments needs PostgreSQL: set DATABASE_URL, for example "
            "postgres://postgres@127.0.0.1:5432/test."
        )
    with isolated_database():
        data = generate(customers)
        return [
            bench_assignment(data, customers),
            bench_results(data, customers),
            bench_attribution(data, customers),
            bench_lifecycle(data, customers),
        ]
