import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from shop.models import Cart, Discount, Order
from shop.services import CheckoutError, find_usable_discount, place_order
from tests.shop.factories import (
    CartFactory,
    CartLineFactory,
    DiscountFactory,
    OrderFactory,
    ProductFactory,
)
from tests.shop.helpers import add_to_cart, checkout, open_cart

pytestmark = pytest.mark.django_db


@pytest.fixture
def parka():
    return ProductFactory(name="Nordkap Parka", price=Decimal("289.00"), stock=5)


@pytest.fixture
def mug():
    return ProductFactory(name="Stoneware Mug", price=Decimal("14.90"), stock=100)


def discount_error(response) -> str:
    return response.context["form"].errors["discount_code"][0]


def test_discount_unknown_rejected(client, mug):
    add_to_cart(client, mug)

    response = checkout(client, email="guest@example.com", discount_code="NOPE10")

    assert response.status_code == 200
    assert discount_error(response) == (
        "The discount code “NOPE10” does not exist. Check the spelling, or leave "
        "the field empty."
    )
    assert not Order.objects.exists()
    assert open_cart(client).status == Cart.Status.OPEN


def test_discount_used_rejected(client, mug):
    DiscountFactory(code="BDAY15", used_by_order=OrderFactory(), used_at=timezone.now())
    add_to_cart(client, mug)

    response = checkout(client, email="guest@example.com", discount_code="bday15")

    assert discount_error(response) == (
        "The discount code “BDAY15” has already been used."
    )
    assert Order.objects.count() == 1


def test_discount_used_stays_used_after_order_deleted(client, mug):
    order = OrderFactory()
    DiscountFactory(code="BDAY15", used_by_order=order, used_at=timezone.now())
    order.delete()
    add_to_cart(client, mug)

    response = checkout(client, email="guest@example.com", discount_code="BDAY15")

    assert "has already been used" in discount_error(response)


def test_discount_expired_rejected(client, mug):
    DiscountFactory(
        code="CART10",
        valid_until=datetime.datetime(2026, 12, 4, 12, 0, tzinfo=datetime.UTC),
    )
    add_to_cart(client, mug)

    with time_machine.travel(datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC)):
        response = checkout(client, email="guest@example.com", discount_code="CART10")

    assert discount_error(response) == (
        "The discount code “CART10” has expired (valid until Dec. 4, 2026, 1 p.m.)."
    )
    assert not Order.objects.exists()


def test_discount_valid_until_moment_accepted(mug):
    valid_until = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=datetime.UTC)
    discount = DiscountFactory(code="CART10", valid_until=valid_until)

    assert find_usable_discount("cart10", at=valid_until) == discount
    with pytest.raises(ValidationError) as error:
        find_usable_discount(
            "cart10", at=valid_until + datetime.timedelta(microseconds=1)
        )
    assert error.value.code == "expired"


@pytest.mark.parametrize("code", ["welcome10", " WELCOME10 ", "Welcome10"])
def test_discount_code_any_letter_case(code):
    discount = DiscountFactory(code="WELCOME10")

    assert find_usable_discount(code) == discount


def test_discount_percent_applied(client, mug):
    DiscountFactory(code="WELCOME10", kind=Discount.Kind.PERCENT, value=10)
    add_to_cart(client, mug, 3)

    checkout(client, email="guest@example.com", discount_code="welcome10")

    order = Order.objects.get()
    assert order.discount_code == "WELCOME10"
    assert order.subtotal == Decimal("44.70")
    assert order.discount_amount == Decimal("4.47")
    assert order.shipping == Decimal("4.90")
    assert order.total == Decimal("45.13")


def test_discount_amount_applied(client, parka):
    DiscountFactory(code="TAKE20", kind=Discount.Kind.AMOUNT, value=20)
    add_to_cart(client, parka)

    checkout(client, email="guest@example.com", discount_code="TAKE20")

    order = Order.objects.get()
    assert order.discount_amount == Decimal("20.00")
    assert order.shipping == Decimal("0.00")
    assert order.total == Decimal("269.00")


def test_discount_amount_capped_at_goods(client, mug):
    DiscountFactory(code="TAKE20", kind=Discount.Kind.AMOUNT, value=20)
    add_to_cart(client, mug)

    checkout(client, email="guest@example.com", discount_code="TAKE20")

    order = Order.objects.get()
    assert order.discount_amount == Decimal("14.90")
    assert order.total == Decimal("4.90")


def test_discount_free_shipping_applied(client, mug):
    DiscountFactory(code="FREESHIP", kind=Discount.Kind.FREE_SHIPPING, value=0)
    add_to_cart(client, mug)

    checkout(client, email="guest@example.com", discount_code="FREESHIP")

    order = Order.objects.get()
    assert order.discount_amount == Decimal("0.00")
    assert order.shipping == Decimal("0.00")
    assert order.total == Decimal("14.90")


def test_discount_single_use_marked_used(client, mug):
    discount = DiscountFactory(code="ONCE", single_use=True)
    add_to_cart(client, mug)

    checkout(client, email="guest@example.com", discount_code="ONCE")

    order = Order.objects.get()
    discount.refresh_from_db()
    assert discount.used_by_order == order
    assert discount.used_at == order.created_at
    assert discount.is_used


def test_discount_single_use_second_checkout_rejected(client, mug):
    DiscountFactory(code="ONCE", single_use=True)
    add_to_cart(client, mug)
    checkout(client, email="first@example.com", discount_code="ONCE")
    add_to_cart(client, mug)

    response = checkout(client, email="second@example.com", discount_code="ONCE")

    assert "has already been used" in discount_error(response)
    assert Order.objects.count() == 1


def test_discount_multi_use_reusable(client, mug):
    discount = DiscountFactory(code="WELCOME10", single_use=False)

    for email in ["first@example.com", "second@example.com"]:
        add_to_cart(client, mug)
        checkout(client, email=email, discount_code="WELCOME10")

    assert Order.objects.filter(discount_code="WELCOME10").count() == 2
    discount.refresh_from_db()
    assert discount.used_at is None
    assert not discount.is_used


def test_place_order_rejects_code_used_meanwhile(mug):
    discount = DiscountFactory(code="ONCE")
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug)
    # Another checkout claims the code after this visitor's form was validated.
    discount.used_by_order = OrderFactory()
    discount.used_at = timezone.now()
    discount.save()

    with pytest.raises(CheckoutError) as error:
        place_order(cart, email="guest@example.com", discount_code="ONCE")

    assert error.value.field == "discount_code"
    assert Order.objects.count() == 1
    cart.refresh_from_db()
    assert cart.status == Cart.Status.OPEN


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("percent", "0", "A percent discount needs a value from 0.01 to 100."),
        ("percent", "100.01", "A percent discount needs a value from 0.01 to 100."),
        ("amount", "0", "An amount discount needs a value above 0."),
    ],
)
def test_discount_clean_rejects_bad_value(kind, value, message):
    discount = Discount(code="BAD", kind=kind, value=Decimal(value))

    with pytest.raises(ValidationError) as error:
        discount.full_clean()

    assert error.value.message_dict["value"] == [message]


def test_discount_percent_above_100_rejected_by_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        Discount.objects.create(code="BAD", kind="percent", value=Decimal("150"))
