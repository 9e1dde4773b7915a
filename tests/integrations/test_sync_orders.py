"""The command that records the orders a shop already has."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from omnichannel.profiles.models import Event, Profile

from .handmade.models import Cart, Order, place_order

pytestmark = pytest.mark.django_db

ADAPTERS = {
    "handmade.Order": "tests.integrations.handmade.adapters.HandmadeOrderAdapter",
    "handmade.Cart": "tests.integrations.handmade.adapters.HandmadeCartAdapter",
}


def place(number, email):
    cart = Cart.objects.create(email=email)
    cart.lines.create(sku="MUG-042", name="Mug", quantity=2, unit_price=Decimal("5"))
    return place_order(cart, number=number)


def test_sync_records_history_once():
    place("H1", "anna.example@example.com")
    place("H2", "anna.example@example.com")
    Order.objects.create(number="H3", email="zoe.sample@example.com")  # pending
    output = StringIO()

    with override_settings(OMNICHANNEL={"SHOP_ADAPTERS": ADAPTERS}):
        call_command("omnichannel_sync_orders", stdout=output)
        call_command(
            "omnichannel_sync_orders", "--model", "handmade.Order", stdout=StringIO()
        )

    assert output.getvalue() == "handmade.Order: 3 orders read, 0 failed.\n"
    profile = Profile.objects.get(email="anna.example@example.com")
    assert profile.order_count == 2
    assert profile.total_spent == Decimal("20.00")
    assert Event.objects.filter(name="order_placed").count() == 2


def test_sync_reports_failed_order():
    place("H1", "anna.example@example.com")
    Order.objects.filter(number="H1").update(currency="eur")
    errors = StringIO()

    with override_settings(OMNICHANNEL={"SHOP_ADAPTERS": ADAPTERS}):
        call_command("omnichannel_sync_orders", stdout=StringIO(), stderr=errors)

    assert "read().currency must be an ISO 4217 code" in errors.getvalue()
    assert not Event.objects.filter(name="order_placed").exists()


def test_sync_unknown_model():
    with (
        override_settings(OMNICHANNEL={"SHOP_ADAPTERS": ADAPTERS}),
        pytest.raises(CommandError) as raised,
    ):
        call_command("omnichannel_sync_orders", "--model", "handmade.Cart")

    assert "configured: handmade.Order" in str(raised.value)


def test_sync_without_adapters():
    with override_settings(OMNICHANNEL={}), pytest.raises(CommandError) as raised:
        call_command("omnichannel_sync_orders")

    assert "names no order adapter" in str(raised.value)
