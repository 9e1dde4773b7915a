"""Shop adapters, each beside a hand-written reference.

* order recording: placing orders through the hand-made test shop
  (``tests.integrations.handmade``) with its adapters connected, so that each order
  also writes ``order_placed`` and ``cart_converted`` and updates the profile's
  aggregates in its transaction, against the same checkout with no adapter;
* abandoned-cart scan: ``detect_abandoned_carts`` over the generated carts, which
  reads every candidate cart back through its adapter. The reference is one SQL
  statement that finds the same carts, followed by ``track()`` of the same events:
  the least it takes to record events that journeys react to.

The customers are the profiles of the standard data set (``benchmarks.dataset``,
without its events), with an email address and identity each. One customer in five
has a cart (at most ``MAX_CARTS``, which bounds the run time); half of those carts
became orders. The data is generated in SQL with a fixed seed in a database of its
own, created and dropped here, so 1M customers take seconds to write.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from benchmarks import dataset
from benchmarks.common import Result, isolated_database, setup_django
from benchmarks.dataset import NOW, insert_select
from benchmarks.dataset import email_address as email

SEED = 0.20261204
ORDERS = 200
MAX_CARTS = 5000
ADAPTERS = {
    "handmade.Order": "tests.integrations.handmade.adapters.HandmadeOrderAdapter",
    "handmade.Cart": "tests.integrations.handmade.adapters.HandmadeCartAdapter",
}


def generate(customers: int) -> dict[str, Any]:
    """Write profiles, carts and their cart events in SQL, without signal handlers."""
    from django.db import connection

    from omnichannel.profiles.models import Event
    from tests.integrations.handmade.models import Cart, CartLine

    dataset.generate_profiles(customers, emails=True)
    dataset.insert_email_identities()
    carts = min(customers // 5, MAX_CARTS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [SEED])
        # The owners are a seeded random sample; half of the carts became orders.
        cursor.execute(
            """
            CREATE TEMPORARY TABLE bench_owner AS
            SELECT profile_id, email, random() < 0.5 AS converted,
                   %(now)s - make_interval(secs => 3600 * (2 + random() * 142))
                       AS changed_at
            FROM (
                SELECT id AS profile_id, email FROM omnichannel_profile
                ORDER BY random() LIMIT %(carts)s
            ) AS drawn ORDER BY profile_id
            """,
            {"now": NOW, "carts": carts},
        )
    insert_select(
        Cart,
        {"email": "email", "status": "'open'", "updated_at": "%(now)s"},
        "FROM bench_owner ORDER BY profile_id",
        {"now": NOW},
    )
    insert_select(
        CartLine,
        {
            "cart_id": "id",
            "sku": "'SKU-' || lpad(floor(random() * 500)::int::text, 3, '0')",
            "name": "'Mug'",
            "quantity": "1 + floor(random() * 3)::int",
            "unit_price": "14.90",
        },
        "FROM handmade_cart ORDER BY id",
    )
    cart_events = (
        "FROM bench_owner o JOIN handmade_cart c ON c.email = o.email "
        "WHERE {where} ORDER BY c.id"
    )
    insert_select(
        Event,
        {
            "profile_id": "o.profile_id",
            "name": "'cart_updated'",
            "occurred_at": "o.changed_at",
            "object_type": "'cart'",
            "object_id": "c.id::text",
            "properties": "jsonb_build_object('cart_id', c.id::text, "
            "'cart_model', 'handmade.Cart')",
        },
        cart_events.format(where="TRUE"),
    )
    converted = insert_select(
        Event,
        {
            "profile_id": "o.profile_id",
            "name": "'cart_converted'",
            "occurred_at": "o.changed_at + interval '5 minutes'",
            "object_type": "'cart'",
            "object_id": "c.id::text",
        },
        cart_events.format(where="o.converted"),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE handmade_cart c SET status = 'ordered' FROM bench_owner o "
            "WHERE o.email = c.email AND o.converted"
        )
        cursor.execute("DROP TABLE bench_owner")
    return {"customers": customers, "open_carts": carts - converted}


def place_orders(count: int, start: int) -> float:
    """Place ``count`` orders for existing customers; return the seconds taken."""
    from tests.integrations.handmade.models import Cart, CartLine, place_order

    carts = []
    for index in range(start, start + count):
        cart = Cart.objects.create(email=email(index))
        CartLine.objects.create(
            cart=cart, sku="MUG-042", name="Mug", quantity=1, unit_price=Decimal("9")
        )
        carts.append(cart)
    began = time.perf_counter()
    for index, cart in enumerate(carts):
        place_order(cart, number=f"B{start + index}")
    return time.perf_counter() - began


def bench_order_recording(customers: int) -> Result:
    from django.test import override_settings

    count = min(ORDERS, customers // 2)
    with override_settings(OMNICHANNEL={"SHOP_ADAPTERS": {}}):
        bare = place_orders(count, start=0)
    with override_settings(
        OMNICHANNEL={"SHOP_ADAPTERS": ADAPTERS, "SHOP_ADAPTER_ERRORS": "raise"}
    ):
        recorded = place_orders(count, start=count)
    return Result(
        name="order with events, per order",
        value=recorded / count * 1000,
        unit="ms",
        reference_value=bare / count * 1000,
        reference="the same checkout with no adapter connected",
        target="ratio<=12",
        customers=customers,
        note=f"{count} orders of existing customers; recording adds about 36 "
        "queries per order (identity, two events, aggregates, journey goals)",
    )


ABANDONED_SQL = """
SELECT e.id FROM omnichannel_event e
WHERE e.name = 'cart_updated' AND e.object_type = 'cart'
  AND e.occurred_at <= %(cutoff)s AND e.occurred_at >= %(oldest)s
  AND NOT EXISTS (
    SELECT 1 FROM omnichannel_event n
    WHERE n.object_type = 'cart' AND n.object_id = e.object_id AND n.id > e.id
      AND n.name IN ('cart_updated', 'cart_converted', 'cart_abandoned'))
  AND NOT EXISTS (
    SELECT 1 FROM omnichannel_event c
    WHERE c.name = 'cart_converted' AND c.object_type = 'cart'
      AND c.object_id = e.object_id)
"""


def bench_abandoned_scan(data: dict[str, Any], customers: int) -> Result:
    from django.db import connection, transaction
    from django.test import override_settings

    from omnichannel.integrations.abandonment import detect_abandoned_carts
    from omnichannel.profiles.models import Event

    def reference() -> float:
        from omnichannel.profiles.models import Profile
        from omnichannel.profiles.services import track

        began = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    ABANDONED_SQL,
                    {"cutoff": NOW - timedelta(hours=1), "oldest": NOW - timedelta(7)},
                )
                ids = [row[0] for row in cursor.fetchall()]
            updates = Event.objects.filter(id__in=ids).values_list(
                "id", "profile_id", "object_id", "occurred_at"
            )
            profiles = Profile.objects.in_bulk([row[1] for row in updates])
            for event_id, profile_id, cart_id, occurred_at in updates:
                track(
                    "cart_abandoned",
                    profile=profiles[profile_id],
                    object_type="cart",
                    object_id=cart_id,
                    occurred_at=occurred_at + timedelta(hours=1),
                    idempotency_key=f"cart_abandoned:{event_id}",
                )
            elapsed = time.perf_counter() - began
            transaction.set_rollback(True)
        assert len(ids) == data["open_carts"], (len(ids), data["open_carts"])
        return elapsed

    def scan() -> float:
        began = time.perf_counter()
        recorded = detect_abandoned_carts(now=NOW)
        elapsed = time.perf_counter() - began
        assert recorded == data["open_carts"], (recorded, data["open_carts"])
        return elapsed

    with override_settings(OMNICHANNEL={"SHOP_ADAPTERS": ADAPTERS}):
        # One run each: a second scan would find every cart reported already.
        reference_time = reference()
        scan_time = scan()
    carts = data["open_carts"]
    return Result(
        name="abandoned-cart scan, per cart",
        value=scan_time / carts * 1000,
        unit="ms",
        reference_value=reference_time / carts * 1000,
        reference="one SQL statement and track() of the same events",
        target="ratio<=1.5",
        customers=customers,
        note=f"{carts} abandoned carts",
    )


def run(customers: int) -> list[Result]:
    setup_django()
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise RuntimeError(
            "bench_adapters needs PostgreSQL: set DATABASE_URL, for example "
            "postgres://postgres@127.0.0.1:5432/test."
        )
    with isolated_database():
        data = generate(customers)
        return [bench_order_recording(customers), bench_abandoned_scan(data, customers)]
