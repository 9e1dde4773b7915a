"""Predictions against the database: fitting on the Event log and scoring profiles.

* fit: ``fit_from_database`` (order days query, summary, BG/NBD and Gamma-Gamma
  fits, two rows written) against the bare order-days query it starts with,
* scoring: ``score_profiles`` over every profile (orders, engagement and message
  queries per batch, numpy scoring, upserts) against a bare upsert of the same
  number of CustomerPrediction rows with constant values, both into an empty table.

The customers are the profiles of the standard data set (``benchmarks.dataset``,
without its events). Their purchases are simulated with numpy from a BG/NBD
process with the CDNOW parameters over two years, with a fixed seed, and a third
of them also have sends and opens; the events go in with ``COPY``.
The data lives in a database of its own (the settings' test database name),
created and dropped by this script.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks import dataset
from benchmarks.common import Result, best_of, setup_django

UTC = ZoneInfo("UTC")
START = datetime(2024, 7, 1, tzinfo=UTC)
DAYS = 730
NOW = START + timedelta(days=DAYS)
SEED = 20261204


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
    """Write profiles with simulated orders and engagement events, with ``COPY``."""
    import numpy

    from omnichannel.profiles.models import Profile

    dataset.generate_profiles(customers)
    ids = numpy.array(
        Profile.objects.order_by("pk").values_list("pk", flat=True), dtype=numpy.int64
    )
    rng = numpy.random.default_rng(SEED)
    _copy_events(_orders(rng, ids))
    _copy_events(_engagement(rng, ids))
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _orders(rng: Any, ids: Any) -> list[str]:
    """Simulate each customer's purchases as a BG/NBD process with the CDNOW
    parameters; return the ``order_placed`` events as ``COPY`` lines."""
    import numpy

    rate = rng.gamma(0.243, 1 / 4.414, len(ids)) / 7  # per day
    dropout = rng.beta(0.793, 2.426, len(ids))
    day = rng.uniform(0, DAYS, len(ids))
    alive = numpy.arange(len(ids))
    lines: list[str] = []
    number = 0
    # One step per order: every customer still buying places one, then may drop out.
    while len(alive):
        alive = alive[day[alive] < DAYS]
        if not len(alive):
            break
        revenue = rng.gamma(6.0, 6.0, len(alive))
        lines += _event_lines(
            ids[alive],
            "order_placed",
            _timestamps(day[alive]),
            "{}",
            "order",
            [f"{pk}-{number}" for pk in ids[alive].tolist()],
            [f"{value:.2f}" for value in revenue.tolist()],
        )
        stays = (rng.random(len(alive)) >= dropout[alive]) & (rate[alive] > 0)
        alive = alive[stays]
        day[alive] += rng.exponential(1 / rate[alive])
        number += 1
    return lines


def _engagement(rng: Any, ids: Any) -> list[str]:
    """Give a third of the customers 1 to 12 sends with an open each, at hours
    around a habit of their own; return the events as ``COPY`` lines."""
    import numpy

    engaged = ids[rng.random(len(ids)) < 1 / 3]
    habit = rng.integers(0, 24, len(engaged))
    sends = rng.integers(1, 13, len(engaged))
    owner = numpy.repeat(engaged, sends)
    # The number of each send within its customer's sends: 0, 1, 2, ...
    starts = numpy.repeat(numpy.cumsum(sends) - sends, sends)
    index = numpy.arange(len(owner)) - starts
    days_before = rng.uniform(1, 300, len(owner))
    hour = (numpy.repeat(habit, sends) + rng.choice([0, 0, 1, 5], len(owner))) % 24
    channel = rng.choice(["email", "email", "sms"], len(owner))
    seconds = (NOW - START).total_seconds() - days_before * 86400
    # Keep the minutes and seconds, set the hour of the day (UTC).
    seconds = seconds - seconds % 86400 + hour * 3600 + seconds % 3600
    moments = _timestamps(seconds / 86400)
    properties = [f'{{"channel": "{name}"}}' for name in channel.tolist()]
    object_ids = [
        f"{pk}-{n}" for pk, n in zip(owner.tolist(), index.tolist(), strict=True)
    ]
    lines: list[str] = []
    for name in ("message_sent", "message_opened"):
        lines += _event_lines(
            owner, name, moments, properties, "delivery", object_ids, None
        )
    return lines


def _timestamps(days: Any) -> list[str]:
    """Format days after ``START`` as UTC timestamps for ``COPY``."""
    import numpy

    start = numpy.datetime64(START.replace(tzinfo=None), "us")
    moments = start + (days * 86_400_000_000).astype("timedelta64[us]")
    return [f"{text}+00" for text in numpy.datetime_as_string(moments).tolist()]


def _event_lines(
    profile_ids: Any,
    name: str,
    moments: list[str],
    properties: str | list[str],
    object_type: str,
    object_ids: list[str],
    revenues: list[str] | None,
) -> list[str]:
    count = len(moments)
    if isinstance(properties, str):
        properties = [properties] * count
    revenue_column = revenues or ["\\N"] * count
    return [
        f"{pk}\t{name}\t{at}\t{at}\t\t{data}\t{object_type}\t{object_id}\t{revenue}\t"
        for pk, at, data, object_id, revenue in zip(
            profile_ids.tolist(),
            moments,
            properties,
            object_ids,
            revenue_column,
            strict=True,
        )
    ]


def _copy_events(lines: list[str]) -> None:
    from django.db import connection

    statement = (
        "COPY omnichannel_event (profile_id, name, occurred_at, received_at, source, "
        "properties, object_type, object_id, revenue, currency) FROM STDIN"
    )
    with connection.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for start in range(0, len(lines), 100_000):
                copy.write("\n".join(lines[start : start + 100_000]) + "\n")


def bench_fit(customers: int) -> Result:
    from omnichannel.predictions import loading, services

    repeat = _repeat(customers)
    value = best_of(lambda: services.fit_from_database(now=NOW), repeat=repeat)
    reference = best_of(
        lambda: loading.load_order_days(until=NOW.date()), repeat=repeat
    )
    return Result(
        name="predictions: fit_from_database",
        value=value,
        unit="s",
        reference_value=reference,
        reference="the bare order-days query",
        target="ratio<=3",
        customers=customers,
        note=f"best of {repeat} runs",
    )


def bench_scoring(customers: int) -> Result:
    from django.utils import timezone

    from omnichannel.predictions import services
    from omnichannel.predictions.models import CustomerPrediction

    def clear() -> None:
        CustomerPrediction.objects.all().delete()

    # Both sides write every prediction into an empty table.
    repeat = _repeat(customers)
    timings = []
    for _ in range(repeat):
        clear()
        started = time.perf_counter()
        report = services.score_profiles(now=NOW)
        timings.append(time.perf_counter() - started)
    value = min(timings)
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

    timings = []
    for _ in range(repeat):
        clear()
        started = time.perf_counter()
        bare_upsert()
        timings.append(time.perf_counter() - started)
    return Result(
        name="predictions: score_profiles, all profiles",
        value=value,
        unit="s",
        reference_value=min(timings),
        reference=f"bare upsert of the same {written} CustomerPrediction rows",
        target="ratio<=5",
        customers=customers,
        note=f"both into an empty table; best of {repeat} runs",
    )


def _repeat(customers: int) -> int:
    """Return how many runs to time: one above 100k customers, where a run of the
    scoring takes minutes."""
    return 2 if customers <= 100_000 else 1


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
