"""Personalised email rendering: renders per second and queries per batch.

Each customer's email has their name, a segment block, a condition on their orders,
four recommendations from the Event log and tracked links (for the half who consent
to tracking). The reference renders the same template through the same pipeline with
one fixed context and no database work. The customers are the profiles of the
standard data set (``benchmarks.dataset``, without its events), with two product
views each and an order of 1 to 3 products for half of them, written in SQL with a
fixed seed. ``SAMPLE`` of them are rendered. Data lives in a throwaway database
named after ``OMNICHANNEL_TEST_DB_SUFFIX``, created and dropped by the run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks import dataset
from benchmarks.common import Result
from benchmarks.dataset import insert_select

BATCH_SIZE = 500
SKUS = 400
CATEGORIES = 12
SEED = 0.20261204
# Customers rendered: all of them up to this size, a seeded random sample above, so
# every size renders the same number of emails against tables that grow.
SAMPLE = 10_000

BODY = """
<div class="wrap">
  <h1>Hello {{ first_name|default:"there" }},</h1>
  {% segment "vip" %}<p class="vip">As one of our best customers, shipping is on us.</p>
  {% else %}<p>Free shipping on orders over 50 EUR.</p>{% endsegment %}
  {% if profile.order_count > 1 %}<p>Thank you for your {{ profile.order_count }}
  orders.</p>{% else %}<p>Take 10% off your next order with {{ code }}.</p>{% endif %}
  <table class="products"><tr>
  {% for product in recommendations %}
    <td class="product"><a href="https://shop.example/p/{{ product.sku }}">
      <strong>{{ product.name }}</strong></a><br>{{ product.category }}
      {% if product.price %}<span class="price">{{ product.price }} EUR</span>
      {% endif %}
    </td>
  {% endfor %}
  </tr></table>
  <p><a class="button" href="https://shop.example/cart">Back to your cart</a></p>
  <p class="footer">Shop Example, 1 Example Street.
  <a href="https://shop.example/account/preferences">Preferences</a></p>
</div>
"""
CSS = """
.wrap { font-family: Arial, sans-serif; max-width: 600px; margin: 0 auto; }
h1 { font-size: 22px; color: #222222; }
.vip { color: #8a6d00; font-weight: bold; }
.product { padding: 8px; border: 1px solid #eeeeee; vertical-align: top; }
.price { color: #c00000; }
.button { background: #0055aa; color: #ffffff; padding: 10px 16px; }
.footer { font-size: 11px; color: #777777; }
"""


@contextmanager
def throwaway_database() -> Iterator[None]:
    """Create the test database of the current settings, migrate it, drop it after."""
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def _generate(customers: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from omnichannel.consent.models import ConsentRecord
    from omnichannel.profiles.models import Event
    from omnichannel.segments.models import Segment, SegmentMembership

    now = timezone.now()
    first_id, _last_id = dataset.generate_profiles(customers, emails=True)
    vip = Segment.objects.create(name="VIP", slug="vip")
    insert_select(
        SegmentMembership,
        {"segment_id": "%(segment)s", "profile_id": "id"},
        "FROM omnichannel_profile p WHERE (id - %(first)s) %% 5 = 0 ORDER BY p.id",
        {"segment": vip.pk, "first": first_id},
    )
    insert_select(
        ConsentRecord,
        {"profile_id": "id", "channel": "'tracking'", "granted": "TRUE"},
        "FROM omnichannel_profile p WHERE (id - %(first)s) %% 2 = 0 ORDER BY p.id",
        {"first": first_id},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [SEED])
        cursor.execute(
            """
            CREATE TEMPORARY TABLE bench_product AS
            SELECT i, jsonb_build_object(
                'sku', 'SKU-' || lpad(i::text, 4, '0'),
                'name', 'Product ' || i,
                'category', 'category-' || i %% %(categories)s,
                'price', (5 + i * 37 %% 116) || '.90',
                'url', 'https://shop.example/p/SKU-' || lpad(i::text, 4, '0')
            ) AS properties
            FROM generate_series(0, %(skus)s - 1) AS i
            """,
            {"categories": CATEGORIES, "skus": SKUS},
        )
    insert_select(
        Event,
        {
            "profile_id": "drawn.id",
            "name": "'product_viewed'",
            "occurred_at": "%(now)s - make_interval(hours => drawn.hours)",
            "properties": "b.properties",
        },
        """
        FROM (
            SELECT p.id, floor(random() * %(skus)s)::int AS i,
                   1 + floor(random() * 500)::int AS hours
            FROM omnichannel_profile p CROSS JOIN generate_series(1, 2) AS number
            ORDER BY p.id, number
        ) AS drawn JOIN bench_product b ON b.i = drawn.i
        ORDER BY drawn.id
        """,
        {"now": now, "skus": SKUS},
    )
    # Half of the customers ordered 1 to 3 different products.
    insert_select(
        Event,
        {
            "profile_id": "drawn.id",
            "name": "'order_placed'",
            "occurred_at": "%(now)s - make_interval(days => drawn.days)",
            "properties": "jsonb_build_object('lines', ("
            "SELECT jsonb_agg(b.properties || jsonb_build_object("
            "'quantity', 1, 'unit_price', b.properties->'price')) "
            "FROM generate_series(0, drawn.lines - 1) AS line "
            "JOIN bench_product b ON b.i = (drawn.i + line * 37) %% %(skus)s))",
        },
        """
        FROM (
            SELECT p.id, random() < 0.5 AS ordered,
                   floor(random() * %(skus)s)::int AS i,
                   1 + floor(random() * 3)::int AS lines,
                   1 + floor(random() * 80)::int AS days
            FROM omnichannel_profile p ORDER BY p.id
        ) AS drawn
        WHERE drawn.ordered
        """,
        {"now": now, "skus": SKUS},
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_product")


def _sample(customers: int) -> list[int]:
    """Return ``SAMPLE`` profile ids in id order (all up to that size), seeded."""
    from omnichannel.profiles.models import Profile

    ids = list(Profile.objects.order_by("pk").values_list("pk", flat=True))
    if len(ids) <= SAMPLE:
        return ids
    return sorted(random.Random(SEED).sample(ids, SAMPLE))


def _template() -> Any:
    from omnichannel.channels.models import MessageTemplate

    return MessageTemplate.objects.create(
        name="Benchmark",
        slug="benchmark",
        channel="email",
        subject="{{ first_name|default:'Hello' }}, picked for you",
        preheader="Four products we think you will like",
        body=BODY,
        css=CSS,
        recommendation_count=4,
    )


def _render_batch(template: Any, profile_ids: list[int], first_delivery: int) -> int:
    from omnichannel.channels.compose import LinkPolicy, compose
    from omnichannel.channels.rendering import build_context, prefetch
    from omnichannel.profiles.models import Profile

    profiles = list(Profile.objects.filter(pk__in=profile_ids).order_by("pk"))
    data = prefetch(profiles, recommendation_count=template.recommendation_count)
    for offset, profile in enumerate(profiles):
        policy = LinkPolicy(
            campaign=template.slug,
            delivery_id=first_delivery + offset,
            track=profile.pk in data.tracking,
        )
        context = build_context(profile, data, {"code": "WELCOME10"})
        compose(template, context, policy)
    return len(profiles)


class _Clock:
    """Wall-clock and CPU seconds, added up over several timed blocks."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu


def _plain_context() -> dict[str, Any]:
    return {
        "first_name": "Anna",
        "profile": {"first_name": "Anna", "order_count": 2},
        "segments": frozenset(),
        "recommendations": [
            {
                "sku": f"SKU-{index}",
                "name": f"Product {index}",
                "category": "category-1",
                "price": "9.90",
            }
            for index in range(4)
        ],
        "code": "WELCOME10",
    }


def _measure(template: Any, ids: list[int]) -> tuple[_Clock, _Clock]:
    """Time personalised batches and plain renders of the same size, alternating
    so that both see the same load on a shared machine."""
    from omnichannel.channels.compose import LinkPolicy, compose
    from omnichannel.channels.recommendations import get_recommender

    # Catalogue statistics are computed once per process, outside the timing.
    get_recommender().recommend(ids[:1], 4)
    personalised, plain = _Clock(), _Clock()
    context = _plain_context()
    for index in range(0, len(ids), BATCH_SIZE):
        batch = ids[index : index + BATCH_SIZE]
        with personalised.timing():
            _render_batch(template, batch, index + 1)
        with plain.timing():
            for _ in batch:
                compose(template, context, LinkPolicy(campaign=template.slug))
    return personalised, plain


def _queries(template: Any, ids: list[int]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        _render_batch(template, ids, 1)
    return len(captured.captured_queries)


def run(customers: int) -> list[Result]:
    from omnichannel.channels.recommendations import reset_recommenders

    with throwaway_database():
        _generate(customers)
        template = _template()
        ids = _sample(customers)
        reset_recommenders()
        personalised, plain = _measure(template, ids)
        small_batch = _queries(template, ids[:10])
        full_batch = _queries(template, ids[:BATCH_SIZE])

    count = len(ids)
    sampled = " (a seeded random sample)" if count < customers else ""
    wall_note = (
        f"wall clock: {count / personalised.wall:.0f} personalised and "
        f"{count / plain.wall:.0f} plain renders/s"
    )
    return [
        Result(
            name="personalised email renders per second",
            value=round(count / personalised.cpu, 1),
            unit="renders/s",
            reference_value=round(count / plain.cpu, 1),
            reference="same template, fixed context, no queries",
            target=">=1000",
            customers=customers,
            note=f"per CPU second of the rendering process, over {count} "
            f"customers{sampled}; {wall_note}",
        ),
        Result(
            name="personalised email render time vs plain",
            value=round(personalised.cpu, 3),
            unit="s",
            reference_value=round(plain.cpu, 3),
            reference="same template, fixed context, no queries",
            target="ratio<=2",
            customers=customers,
            note=f"CPU time; batches of {BATCH_SIZE}, four recommendations each",
        ),
        Result(
            name="render queries per batch",
            value=full_batch,
            unit="queries",
            reference_value=small_batch,
            reference="queries for a batch of 10",
            target="ratio<=1",
            customers=customers,
            note=f"batch of {min(BATCH_SIZE, len(ids))}",
        ),
    ]
