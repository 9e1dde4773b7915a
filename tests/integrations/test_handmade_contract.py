"""The adapter test kit run against the hand-made shop's adapters."""

from decimal import Decimal
from itertools import count

import pytest

from omnichannel.exceptions import AdapterError
from omnichannel.integrations.testing import CartAdapterContract, OrderAdapterContract

from .handmade.adapters import HandmadeOrderAdapter
from .handmade.models import Cart, Order, place_order

ORDER_NUMBERS = count(1000)


def fill_cart(email="anna.example@example.com"):
    cart = Cart.objects.create(email=email)
    cart.lines.create(
        sku="MUG-042", name="Mug", quantity=1, unit_price=Decimal("14.90")
    )
    return cart


class TestHandmadeOrderAdapter(OrderAdapterContract):
    model_label = "handmade.Order"
    adapter_path = "tests.integrations.handmade.adapters.HandmadeOrderAdapter"

    def create_order(self):
        return place_order(fill_cart(), number=f"H{next(ORDER_NUMBERS)}")

    def cancel_order(self, order):
        order.status = Order.Status.CANCELLED
        order.save()


class TestHandmadeCartAdapter(CartAdapterContract):
    model_label = "handmade.Cart"
    adapter_path = "tests.integrations.handmade.adapters.HandmadeCartAdapter"

    def create_cart(self):
        return fill_cart()

    def change_cart(self, cart):
        cart.lines.create(
            sku="PLATE-7", name="Plate", quantity=2, unit_price=Decimal("9.50")
        )

    def convert_cart(self, cart):
        place_order(cart, number=f"H{next(ORDER_NUMBERS)}")


class IgnoresCancellation(HandmadeOrderAdapter):
    def is_cancelled(self, order):
        return False


class FloatTotal(HandmadeOrderAdapter):
    def get_total(self, order):
        return float(order.total)


def run_check(contract_class, adapter_class, check):
    """Run one check of a contract against another adapter, outside collection."""
    contract = contract_class()
    contract.adapter_path = f"{__name__}.{adapter_class.__name__}"
    fixture = contract._configure_adapter.__wrapped__(contract)
    next(fixture)
    try:
        getattr(contract, check)()
    finally:
        fixture.close()


@pytest.mark.django_db
def test_kit_fails_adapter_that_ignores_cancellation():
    with pytest.raises(AssertionError):
        run_check(
            TestHandmadeOrderAdapter,
            IgnoresCancellation,
            "test_cancelling_reverses_aggregates",
        )


@pytest.mark.django_db
def test_kit_fails_adapter_with_float_total():
    with pytest.raises(AdapterError) as raised:
        run_check(TestHandmadeOrderAdapter, FloatTotal, "test_read_returns_order_data")

    assert "FloatTotal.read().total must be a finite Decimal" in str(raised.value)
