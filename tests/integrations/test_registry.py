"""The generic registry with the hand-made shop's adapters."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal
from django.test import override_settings

from omnichannel.integrations import registry
from omnichannel.integrations.base import Receiver, ShopAdapter
from omnichannel.profiles.models import Event

from .handmade.adapters import HandmadeCartAdapter, HandmadeOrderAdapter
from .handmade.models import Cart, DiscountCode, Order, place_order

pytestmark = pytest.mark.django_db

ADAPTERS = {
    "handmade.Order": "tests.integrations.handmade.adapters.HandmadeOrderAdapter",
    "handmade.Cart": "tests.integrations.handmade.adapters.HandmadeCartAdapter",
}


def handmade(**changes):
    return override_settings(
        OMNICHANNEL={
            "SHOP_ADAPTERS": ADAPTERS,
            "SHOP_ADAPTER_ERRORS": "raise",
            **changes,
        }
    )


def fill_cart(email="anna.example@example.com"):
    cart = Cart.objects.create(email=email)
    cart.lines.create(
        sku="MUG-042", name="Mug", quantity=1, unit_price=Decimal("14.90")
    )
    return cart


def test_discount_code_used_recorded_once():
    with handmade():
        order = place_order(fill_cart(), number="H1", discount_code="WELCOME10")
        order.save()

    used = Event.objects.get(name="discount_code_used")
    assert used.properties == {
        "code": "WELCOME10",
        "order_id": "H1",
        "total": "14.90",
        "currency": "EUR",
    }
    assert used.object_id == "H1"


def test_pending_order_records_nothing():
    with handmade():
        Order.objects.create(number="H2", email="anna.example@example.com")

    assert not Event.objects.exists()


def test_saved_cart_records_nothing():
    with handmade():
        cart = Cart.objects.create(email="anna.example@example.com", status="saved")
        cart.lines.create(
            sku="MUG-042", name="Mug", quantity=1, unit_price=Decimal("1")
        )

    assert not Event.objects.exists()


class BrokenOrderAdapter(HandmadeOrderAdapter):
    def get_customer(self, order):
        raise LookupError("a bug in the shop's adapter")


BROKEN = {"handmade.Order": f"{__name__}.BrokenOrderAdapter"}


def test_logged_adapter_error_keeps_order(caplog):
    with handmade(SHOP_ADAPTERS=BROKEN, SHOP_ADAPTER_ERRORS="log"):
        place_order(fill_cart(), number="H3")

    assert Order.objects.filter(number="H3", status="placed").exists()
    assert not Event.objects.exists()
    assert "shop adapter for handmade.Order failed" in caplog.text


def test_raised_adapter_error_fails_save():
    with handmade(SHOP_ADAPTERS=BROKEN), pytest.raises(LookupError):
        place_order(fill_cart(), number="H4")

    assert not Order.objects.exists()


shipped = Signal()


class AnnouncingOrderAdapter(HandmadeOrderAdapter):
    def get_receivers(self):
        return [Receiver(shipped, self.on_shipped)]

    def on_shipped(self, sender, order, **kwargs):
        registry.record_instance(self, order)


def test_adapter_receivers_follow_settings():
    adapters = {"handmade.Order": f"{__name__}.AnnouncingOrderAdapter"}
    order = Order.objects.create(number="H5", email="anna.example@example.com")
    order.lines.create(sku="MUG-042", name="Mug", quantity=1, unit_price=Decimal("2"))
    Order.objects.filter(pk=order.pk).update(status="placed")
    order.refresh_from_db()

    with handmade(SHOP_ADAPTERS=adapters):
        assert shipped.has_listeners()
        shipped.send(sender=None, order=order)

    assert not shipped.has_listeners()
    assert Event.objects.filter(name="order_placed", object_id="H5").count() == 1


def test_create_discount_code_through_adapter():
    with handmade():
        code = registry.create_discount_code(
            code=" Spring-15 ", kind="percent", value="15"
        )

    stored = DiscountCode.objects.get()
    assert code == "Spring-15"
    assert stored.code == "Spring-15"
    assert stored.value == Decimal("15")
    assert stored.single_use


def test_create_discount_code_without_capable_adapter():
    adapters = {"handmade.Cart": ADAPTERS["handmade.Cart"]}

    with (
        handmade(SHOP_ADAPTERS=adapters),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        registry.create_discount_code(code="X1", kind="percent", value=5)

    assert "create_discount_code()" in str(raised.value)


def test_base_adapter_cannot_create_codes():
    with pytest.raises(NotImplementedError) as raised:
        HandmadeCartAdapter().create_discount_code(
            code="X1",
            kind="percent",
            value=Decimal("5"),
            valid_until=None,
            single_use=True,
            profile=None,
        )

    assert "HandmadeCartAdapter cannot create discount codes" in str(raised.value)
    assert ShopAdapter.create_discount_code is HandmadeCartAdapter.create_discount_code


def test_idempotency_key_fits_column():
    short = registry.idempotency_key("order_placed", "handmade.Order:H1")
    long = registry.idempotency_key("discount_code_used", "x" * 150, "y" * 100)

    assert short == "order_placed:handmade.Order:H1"
    assert len(long) == 200
    assert long == registry.idempotency_key("discount_code_used", "x" * 150, "y" * 100)
    assert long != registry.idempotency_key("discount_code_used", "x" * 150, "z" * 100)
