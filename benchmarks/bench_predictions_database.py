"""Predictions against the database: fitting on the Event log and scoring profiles.

* fit: ``fit_from_database`` (order days query, summary, BG/NBD and Gamma-Gamma
  fits, two rows written) against the bare order-days query it starts with,
* scoring: ``score_profiles`` over every profile (orders, engagement and message
  queries per batch, numpy scoring, upserts) against a bare upsert of the same
  number of CustomerPrediction rows with constant values.

Purchases are simulated from a BG/NBD process with the CDNOW parameters over two
years, with a fixed seed; a third of the customers also have opens and clicks.
The data lives in a database of its own (the settings' test database name),
created and dropped by this script.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import Result, best_of, setup_django

UTC = ZoneInfo("UTC")
START = datetime(2024, 7, 1, tzinfo=UTC)
DAYS = 730
NOW = START + timedelta(days=DAYS)


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
    """Write profiles with simulated orders and engagement events."""
    from omnichannel.profiles.models import Event, Profile

    rng = random.Random(20261204)
    profiles = Profile.objects.bulk_create(
        (Profile() for _ in range(customers)), batch_size=5000
    )
    events: list[Event] = []
    for profile in profiles:
        events.extend(_orders(rng, profile))
        if rng.random() < 1 / 3:
            events.extend(_engagement(rng, profile))
        if len(events) >= 20_000:
            Event.objects.bulk_create(events, batch_size=5000)
            events = []
    Event.objects.bulk_create(events, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _orders(rng: random.Random, profile: Any) -> list[Any]:
    from omnichannel.profiles.models import Event

    rate = rng.gammavariate(0.243, 1 / 4.414) / 7  # per day
    dropout = rng.betavariate(0.793, 2.426)
    day = rng.uniform(0, DAYS)
    orders = []
    while day < DAYS:
        orders.append(
            Event(
                profile=profile,
                name="order_placed",
                occurred_at=START + timedelta(days=day),
                revenue=Decimal(f"{rng.gammavariate(6.0, 6.0):.2f}"),
                object_type="order",
                object_id=f"{profile.pk}-{len(orders)}",
            )
        )
        if rng.random() < dropout or rate <= 0:
            break
        day += rng.expovariate(rate)
    return orders


def _engagement(rng: random.Random, profile: Any) -> list[Any]:
    from omnichannel.profiles.models import Event

    habit = rng.randrange(24)
    events = []
    for index in range(rng.randint(1, 12)):
        moment = NOW - timedelta(days=rng.uniform(1, 300))
        moment = moment.replace(hour=(habit + rng.choice((0, 0, 1, 5))) % 24)
        channel = rng.choice(("email", "email", "sms"))
        for name in ("message_sent", "message_opened"):
            events.append(
                Event(
                    profile=profile,
                    name=name,
                    occurred_at=moment,
                    properties={"channel": channel},
                    object_type="delivery",
                    object_id=f"{profile.pk}-{index}",
                )
            )
    return events


def bench_fit(customers: int) -> Result:
    from omnichannel.predictions import loading, services

    value = best_of(lambda: services.fit_from_database(now=NOW), repeat=2)
    reference = best_of(lambda: loading.load_order_days(until=NOW.date()), repeat=2)
    return Result(
        name="predictions: fit_from_database",
        value=value,
        unit="s",
        reference_value=reference,
        reference="the bare order-days query",
        target="ratio<=3",
        customers=customers,
    )


def bench_scoring(customers: int) -> Result:
    from django.utils import timezone

    from omnichannel.predictions import services
    from omnichannel.predictions.models import CustomerPrediction

    report = services.score_profiles(now=NOW)
    written = report.predictions_written
    ids = list(CustomerPrediction.objects.order_by("pk").values_list("pk", flat=True))

    def bare_upsert() -> None:
        now = timezone.now()
        rows = [
            CustomerPrediction(
                profile_id=pk,
                probability_alive=0.5,
                churn_risk=0.5,
                expected_purchases_30d=0.1,
                expected_purchases_90d=0.3,
                probability_purchase_30d=0.1,
                clv_12m=Decimal("12.34"),
                lifecycle_stage="active",
                best_send_hour_of_week=9,
                best_send_hour_of_day=9,
                send_time_events=3,
                channel_affinity={"email": 0.2, "sms": 0.3},
                preferred_channel="sms",
                scored_at=now,
            )
            for pk in ids
        ]
        CustomerPrediction.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["profile"],
            update_fields=list(services.SCORE_FIELDS),
        )

    value = best_of(lambda: services.score_profiles(now=NOW), repeat=2)
    reference = best_of(bare_upsert, repeat=2)
    return Result(
        name="predictions: score_profiles, all profiles",
        value=value,
        unit="s",
        reference_value=reference,
        reference=f"bare upsert of the same {written} CustomerPrediction rows",
        target="ratio<=5",
        customers=customers,
    )


def run(customers: int) -> list[Result]:
    setup_django()
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise RuntimeError(
            "bench_predictions_database needs PostgreSQL: set DATABASE_URL, for "
            "example postgres://postgres@127.0.0.1:5432/test."
        )
    with isolated_database():
        generate(customers)
        return [bench_fit(customers), bench_scoring(customers)]
