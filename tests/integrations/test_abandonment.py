"""Abandoned carts found from the event log and confirmed by the cart adapter."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from omnichannel.api import track
from omnichannel.integrations.abandonment import detect_abandoned_carts
from omnichannel.integrations.tasks import detect_abandoned_carts_task
from omnichannel.profiles.models import Event

from .handmade.adapters import HandmadeCartAdapter
from .handmade.models import Cart, place_order

pytestmark = pytest.mark.django_db

ADAPTERS = {
    "handmade.Order": "tests.integrations.handmade.adapters.HandmadeOrderAdapter",
    "handmade.Cart": "tests.integrations.handmade.adapters.HandmadeCartAdapter",
}


@pytest.fixture(autouse=True)
def handmade():
    with override_settings(
        OMNICHANNEL={"SHOP_ADAPTERS": ADAPTERS, "SHOP_ADAPTER_ERRORS": "raise"}
    ):
        yield


def fill_cart():
    cart = Cart.objects.create(email="zoe.sample@example.com")
    cart.lines.create(
        sku="MUG-042", name="Mug", quantity=1, unit_price=Decimal("14.90")
    )
    return cart


def last_update(cart):
    return Event.objects.filter(name="cart_updated", object_id=str(cart.pk)).latest(
        "id"
    )


def test_cart_changed_again_is_reported_again():
    cart = fill_cart()
    first = last_update(cart)
    detect_abandoned_carts(now=first.occurred_at + timedelta(hours=2))

    cart.lines.create(sku="PLATE-7", name="Plate", quantity=1, unit_price=Decimal("9"))
    second = last_update(cart)
    detect_abandoned_carts(now=second.occurred_at + timedelta(hours=2))

    abandoned = Event.objects.filter(name="cart_abandoned").order_by("id")
    assert [event.properties["cart_updated_event_id"] for event in abandoned] == [
        first.id,
        second.id,
    ]


def test_cart_converted_after_scan_start_not_reported():
    cart = fill_cart()
    update = last_update(cart)
    place_order(cart, number="H10")

    assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=2)) == 0


def test_deleted_cart_not_reported():
    cart = fill_cart()
    update = last_update(cart)
    Cart.objects.filter(pk=cart.pk).delete()

    assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=2)) == 0


def test_cart_without_adapter_taken_from_log():
    track(
        "cart_updated",
        email="zoe.sample@example.com",
        object_type="cart",
        object_id="pos-77",
        properties={"cart_id": "pos-77", "lines": [], "total": "5.00"},
    )
    update = Event.objects.get(name="cart_updated")

    assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=2)) == 1


def test_abandonment_settings_apply():
    cart = fill_cart()
    update = last_update(cart)

    with override_settings(
        OMNICHANNEL={
            "SHOP_ADAPTERS": ADAPTERS,
            "CART_ABANDONED_AFTER": timedelta(hours=24),
            "CART_ABANDONED_MAX_AGE": timedelta(days=2),
        }
    ):
        assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=23)) == 0
        assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=25)) == 1

    abandoned = Event.objects.get(name="cart_abandoned")
    assert abandoned.occurred_at == update.occurred_at + timedelta(hours=24)


def test_command_and_task_report_count():
    fill_cart()
    output = StringIO()

    with override_settings(
        OMNICHANNEL={"SHOP_ADAPTERS": ADAPTERS, "CART_ABANDONED_AFTER": timedelta(0, 1)}
    ):
        Event.objects.update(occurred_at=Event.objects.get().occurred_at - timedelta(1))
        call_command("omnichannel_detect_abandoned_carts", stdout=output)
        assert detect_abandoned_carts_task.apply().get() == 0

    assert output.getvalue() == "Abandoned carts recorded: 1\n"


def test_beat_schedule_names_registered_task():
    from celery import current_app

    from omnichannel.integrations.tasks import ABANDONED_CARTS_TASK, beat_schedule

    entry = beat_schedule(timedelta(minutes=10))["omnichannel: detect abandoned carts"]

    assert entry == {"task": ABANDONED_CARTS_TASK, "schedule": timedelta(minutes=10)}
    assert ABANDONED_CARTS_TASK in current_app.tasks


def shop_queries(captured):
    """Return the captured queries that read the hand-made shop's tables."""
    return [query for query in captured if '"handmade_' in query["sql"]]


def scan_shop_queries(cart_count):
    Event.objects.all().delete()
    carts = [fill_cart() for _ in range(cart_count)]
    latest = max(last_update(cart).occurred_at for cart in carts)
    with CaptureQueriesContext(connection) as captured:
        recorded = detect_abandoned_carts(now=latest + timedelta(hours=2))
    assert recorded == cart_count
    return shop_queries(captured.captured_queries)


def test_scan_reads_carts_once_per_batch():
    one = scan_shop_queries(1)
    many = scan_shop_queries(6)

    # The carts of a batch and their lines, each in one query.
    assert len(one) == 2
    assert len(many) == 2


def test_scan_skips_saved_and_emptied_carts():
    saved = fill_cart()
    emptied = fill_cart()
    kept = fill_cart()
    saved.status = Cart.Status.SAVED
    saved.save()
    emptied.lines.all().delete()
    latest = max(last_update(cart).occurred_at for cart in (saved, emptied, kept))

    assert detect_abandoned_carts(now=latest + timedelta(hours=2)) == 1

    abandoned = Event.objects.get(name="cart_abandoned")
    assert abandoned.object_id == str(kept.pk)


class LookupCartAdapter(HandmadeCartAdapter):
    """Finds carts by a prefixed id, so the batch read must go through get_cart."""

    def get_cart_id(self, cart):
        return f"C{cart.pk}"

    def get_cart(self, cart_id):
        if not cart_id.startswith("C"):
            return None
        return Cart.objects.filter(pk=cart_id[1:]).first()


def test_get_carts_uses_overridden_get_cart():
    cart = fill_cart()
    adapter = LookupCartAdapter()
    adapter.model_label = "handmade.Cart"

    carts = adapter.get_carts([f"C{cart.pk}", str(cart.pk), "C0"])

    assert carts == {f"C{cart.pk}": cart}


def test_get_carts_skips_ids_of_wrong_type():
    cart = fill_cart()
    adapter = HandmadeCartAdapter()
    adapter.model_label = "handmade.Cart"

    carts = adapter.get_carts([str(cart.pk), "not-a-number", "0"])

    assert list(carts) == [str(cart.pk)]
    assert carts[str(cart.pk)].pk == cart.pk
