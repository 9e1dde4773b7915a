"""Experiments and analytics, each beside a hand-written reference.

* assignment: ``assign_many`` over every customer against a bare bulk insert of the
  same Assignment rows,
* experiment results: ``experiment_results`` against one SQL statement that counts
  conversions and revenue per arm,
* attribution: ``attribute_orders`` against one SQL statement that finds each order's
  last click with a correlated subquery,
* lifecycle map: ``lifecycle_map`` against fetching the same event columns in the
  same order, which it cannot do without.

The data is generated with a fixed seed in a database of its own (the test database
name of the settings), created and dropped by this script.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import Result, best_of, isolated_database, setup_django

UTC = ZoneInfo("UTC")
START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday
DAYS = 56


def generate(customers: int) -> dict[str, Any]:
    """Write profiles and a seeded event history; return what the figures need."""
    from omnichannel.experiments.models import Experiment, Variant
    from omnichannel.profiles.models import Event, Profile

    rng = random.Random(20261204)
    profiles = Profile.objects.bulk_create(
        (Profile() for _ in range(customers)), batch_size=5000
    )
    events: list[Event] = []
    channels = ["email", "search", "social", "pos", ""]

    def at(day: float) -> datetime:
        return START + timedelta(days=day)

    for profile in profiles:
        day = rng.uniform(0, DAYS)
        events.append(
            Event(
                profile=profile,
                name="page_viewed",
                occurred_at=at(day),
                source="web",
                properties={"utm_medium": rng.choice(channels)},
            )
        )
        if rng.random() < 0.5:
            events.append(
                Event(
                    profile=profile, name="product_viewed", occurred_at=at(day + 0.01)
                )
            )
        if rng.random() < 0.2:
            events.append(
                Event(profile=profile, name="cart_updated", occurred_at=at(day + 0.02))
            )
        if rng.random() < 0.15:
            events.append(
                Event(
                    profile=profile,
                    name="message_clicked",
                    occurred_at=at(day + 0.5),
                    properties={"journey_id": rng.randint(1, 5), "step_key": "email-1"},
                )
            )
        if rng.random() < 0.08:
            events.append(
                Event(
                    profile=profile,
                    name="order_placed",
                    occurred_at=at(day + rng.uniform(0.6, 6)),
                    revenue=Decimal(rng.randint(500, 12000)) / 100,
                    object_type="order",
                    object_id=f"order-{profile.pk}",
                )
            )
    Event.objects.bulk_create(events, batch_size=5000)

    experiment = Experiment.objects.create(
        key="bench",
        name="bench",
        status=Experiment.Status.RUNNING,
        holdout_share=Decimal("0.1"),
        conversion_window=timedelta(days=7),
    )
    for key, control in (("a", True), ("b", False)):
        Variant.objects.create(experiment=experiment, key=key, is_control=control)
    return {
        "experiment": experiment,
        "profile_ids": [profile.pk for profile in profiles],
        "events": len(events),
    }


def bench_assignment(data: dict[str, Any], customers: int) -> Result:
    from omnichannel.experiments.assignment import assign_many
    from omnichannel.experiments.models import Assignment

    experiment = data["experiment"]
    ids = data["profile_ids"]
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
    # Leave the deterministic arms behind for the results figure.
    Assignment.objects.filter(experiment=experiment).delete()
    assign_many(experiment, ids)
    Assignment.objects.filter(experiment=experiment).update(assigned_at=START)
    return Result(
        name="assign_many, all customers",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="bulk insert of the same Assignment rows",
        target="ratio<=3",
        customers=customers,
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

    reference_time = best_of(reference, repeat=2)
    value = best_of(lambda: lifecycle_map(START, end), repeat=2)
    return Result(
        name="lifecycle map, 8 weeks",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="fetching the same event rows in the same order",
        target="ratio<=5",
        customers=customers,
        note=f"{data['events']} events",
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
