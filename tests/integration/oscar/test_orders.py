"""Orders written by Oscar's OrderCreator, read by the Oscar order adapter."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from oscar.apps.order.signals import order_placed
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from omnichannel.integrations import registry
from omnichannel.integrations.oscar import SHOP_ADAPTERS
from omnichannel.integrations.oscar.adapters import OrderAdapter
from omnichannel.profiles.models import Event, Profile

Applicator = get_class("offer.applicator", "Applicator")
Order = get_model("order", "Order")
Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")

pytestmark = pytest.mark.django_db

LENA = "lena.beispiel@example.org"


def oscar_settings(**changes):
    from django.conf import settings

    return override_settings(OMNICHANNEL={**settings.OMNICHANNEL, **changes})


def test_order_event_reads_oscar_order(place_order, customer, make_basket, mug):
    basket = make_basket((mug, 2), owner=customer)

    order = place_order(basket=basket, user=customer)

    placed = Event.objects.get(name="order_placed")
    assert placed.source == "oscar"
    assert placed.object_id == str(order.number)
    assert placed.revenue == Decimal("29.80")
    assert placed.properties["lines"] == [
        {
            "sku": "MUG-042",
            "name": "Enamel mug",
            "quantity": 2,
            "unit_price": "14.90",
            "category": "Mugs",
        }
    ]
    assert placed.properties["cart_id"] == str(basket.pk)
    assert placed.profile.user == customer
    assert placed.profile.email == LENA


def test_guest_order_takes_email_and_phone(place_order, country):
    address = factories.ShippingAddressFactory(
        country=country, first_name="Lena", phone_number="+49 30 901820"
    )

    place_order(guest_email=LENA, shipping_address=address)

    profile = Event.objects.get(name="order_placed").profile
    assert profile.email == LENA
    assert profile.phone == "+4930901820"
    assert profile.first_name == "Lena"


def test_order_converts_its_basket(place_order, customer, make_basket, mug):
    basket = make_basket((mug, 1), owner=customer)

    order = place_order(basket=basket, user=customer)

    converted = Event.objects.filter(name="cart_converted", object_id=str(basket.pk))
    assert converted.count() == 1
    assert converted.get().properties["order_id"] == str(order.number)


def test_order_with_voucher_records_code_used(customer, make_basket, mug):
    code = registry.create_discount_code(code="welcome10", kind="percent", value=10)
    basket = make_basket((mug, 1), owner=customer)
    basket.vouchers.add(get_model("voucher", "Voucher").objects.get(code=code))
    Applicator().apply(basket, customer)

    order = factories.create_order(basket=basket, user=customer)

    used = Event.objects.get(name="discount_code_used")
    assert used.properties["code"] == "WELCOME10"
    assert used.properties["order_id"] == str(order.number)
    placed = Event.objects.get(name="order_placed")
    assert placed.properties["discount_codes"] == ["WELCOME10"]
    assert placed.revenue == Decimal("13.41")


def test_order_without_basket_recorded_on_order_placed_signal(customer, mug):
    # An order written by the shop's own code, not by OrderCreator from a basket.
    order = Order.objects.create(
        number="200001",
        user=customer,
        currency="EUR",
        total_incl_tax=Decimal("44.70"),
        total_excl_tax=Decimal("44.70"),
    )
    stockrecord = mug.stockrecords.get()
    for quantity in (1, 2):
        order.lines.create(
            partner=stockrecord.partner,
            partner_name=stockrecord.partner.name,
            partner_sku=stockrecord.partner_sku,
            stockrecord=stockrecord,
            product=mug,
            title=mug.title,
            quantity=quantity,
            num_allocated=quantity,
            line_price_incl_tax=Decimal("14.90") * quantity,
            line_price_excl_tax=Decimal("14.90") * quantity,
            line_price_before_discounts_incl_tax=Decimal("14.90") * quantity,
            line_price_before_discounts_excl_tax=Decimal("14.90") * quantity,
            unit_price_incl_tax=Decimal("14.90"),
            unit_price_excl_tax=Decimal("14.90"),
        )
    assert not Event.objects.filter(name="order_placed").exists()

    order_placed.send(sender=None, order=order, user=customer)

    placed = Event.objects.get(name="order_placed")
    assert [line["quantity"] for line in placed.properties["lines"]] == [1, 2]
    assert placed.revenue == Decimal("44.70")


def test_rolled_back_order_leaves_no_trace(place_order):
    with pytest.raises(RuntimeError), transaction.atomic():
        place_order(guest_email=LENA)
        raise RuntimeError("payment failed after the order was written")

    assert not Event.objects.exists()
    assert not Profile.objects.exists()


def test_cancelled_order_reverses_aggregates(place_order, customer):
    first = place_order(user=customer)
    place_order(user=customer)
    profile = Profile.objects.get(user=customer)
    assert profile.order_count == 2

    first.set_status("Cancelled")

    profile.refresh_from_db()
    assert profile.order_count == 1
    assert profile.total_spent == Decimal("14.90")
    assert (
        Event.objects.filter(
            name="order_cancelled", object_id=str(first.number)
        ).count()
        == 1
    )


def test_debited_payment_marks_order_paid(place_order, customer):
    order = place_order(user=customer)
    source_type = SourceType.objects.create(name="Card")

    source = Source.objects.create(
        order=order,
        source_type=source_type,
        currency="EUR",
        amount_allocated=order.total_incl_tax,
        amount_debited=Decimal("10.00"),
    )
    assert not Event.objects.filter(name="order_paid").exists()
    source.amount_debited = order.total_incl_tax
    source.save()

    assert (
        Event.objects.filter(name="order_paid", object_id=str(order.number)).count()
        == 1
    )


def test_refunded_payment_reverses_aggregates(place_order, customer):
    order = place_order(user=customer)
    source_type = SourceType.objects.create(name="Card")

    Source.objects.create(
        order=order,
        source_type=source_type,
        currency="EUR",
        amount_debited=order.total_incl_tax,
        amount_refunded=order.total_incl_tax,
    )

    profile = Profile.objects.get(user=customer)
    assert Event.objects.filter(name="order_refunded").count() == 1
    assert profile.order_count == 0
    assert profile.total_spent == Decimal("0")


def test_paid_status_setting(place_order, customer):
    order = place_order(user=customer)

    with oscar_settings(
        OSCAR_ORDER_STATUSES={"paid": ["Being processed"], "cancelled": ["Cancelled"]}
    ):
        order.set_status("Being processed")

    assert Event.objects.filter(name="order_paid", object_id=str(order.number)).exists()


class BrokenOrderAdapter(OrderAdapter):
    def get_lines(self, order):
        raise KeyError("a bug in the shop's adapter")


def broken_adapters():
    return {**SHOP_ADAPTERS, "order.Order": f"{__name__}.BrokenOrderAdapter"}


def test_adapter_error_is_logged_and_order_kept(place_order, caplog):
    with oscar_settings(SHOP_ADAPTERS=broken_adapters(), SHOP_ADAPTER_ERRORS="log"):
        order = place_order(guest_email=LENA)

    assert Order.objects.filter(pk=order.pk).exists()
    assert not Event.objects.filter(name="order_placed").exists()
    assert "shop adapter for order.Order failed" in caplog.text


def test_adapter_error_raises_when_configured(place_order):
    with (
        oscar_settings(SHOP_ADAPTERS=broken_adapters(), SHOP_ADAPTER_ERRORS="raise"),
        pytest.raises(KeyError),
    ):
        place_order(guest_email=LENA)

    assert not Order.objects.exists()


def test_sync_orders_records_existing_orders_once(place_order, customer):
    with oscar_settings(SHOP_ADAPTERS={}):
        place_order(user=customer)
        place_order(guest_email="anna.example@example.com")
    assert not Event.objects.exists()

    output = StringIO()
    call_command("omnichannel_sync_orders", stdout=output)
    call_command("omnichannel_sync_orders", stdout=StringIO())

    assert "order.Order: 2 orders read, 0 failed." in output.getvalue()
    assert Event.objects.filter(name="order_placed").count() == 2
    assert Profile.objects.get(user=customer).order_count == 1
