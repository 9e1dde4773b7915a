"""Discount codes created as Oscar vouchers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_class, get_model

from omnichannel.exceptions import DiscountCodeTaken, InvalidDiscountCode
from omnichannel.integrations import registry
from omnichannel.integrations.oscar.vouchers import NO_END, RANGE_NAME
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify

from .conftest import check_out

Applicator = get_class("offer.applicator", "Applicator")
Benefit = get_model("offer", "Benefit")
Range = get_model("offer", "Range")
Voucher = get_model("voucher", "Voucher")

pytestmark = pytest.mark.django_db


def apply_code(basket, code):
    basket.vouchers.add(Voucher.objects.get(code=code))
    # Oscar applies voucher offers only for a user, anonymous or not.
    Applicator().apply(basket, AnonymousUser())
    return basket


def test_percent_code_discounts_basket(make_basket, mug):
    valid_until = timezone.now() + timedelta(days=14)
    profile = identify(email="anna.example@example.com")

    code = registry.create_discount_code(
        code="cart10",
        kind="percent",
        value=Decimal("10"),
        valid_until=valid_until,
        single_use=True,
        profile=profile,
    )

    voucher = Voucher.objects.get(code=code)
    offer = voucher.offers.get()
    assert code == "CART10"
    assert voucher.usage == Voucher.SINGLE_USE
    assert voucher.end_datetime == valid_until
    assert offer.benefit.type == Benefit.PERCENTAGE
    assert str(profile.uuid) in offer.description
    basket = apply_code(make_basket((mug, 2)), code)
    assert basket.total_discount == Decimal("2.98")


def test_amount_code_discounts_basket(make_basket, mug):
    code = registry.create_discount_code(code="FIVE", kind="amount", value="5.00")

    basket = apply_code(make_basket((mug, 1)), code)

    assert basket.total_incl_tax == Decimal("9.90")
    assert Voucher.objects.get(code=code).end_datetime == NO_END


def test_free_shipping_code(mug):
    code = registry.create_discount_code(
        code="SHIPFREE", kind="free_shipping", single_use=False
    )

    voucher = Voucher.objects.get(code=code)
    benefit = voucher.offers.get().benefit
    assert voucher.usage == Voucher.MULTI_USE
    assert benefit.type == Benefit.SHIPPING_PERCENTAGE
    assert benefit.value == 100
    assert benefit.range is None


def test_codes_share_one_range(mug):
    registry.create_discount_code(code="ONE", kind="percent", value=5)
    registry.create_discount_code(code="TWO", kind="amount", value=5)

    shared = Range.objects.get(name=RANGE_NAME)
    assert shared.includes_all_products
    assert {
        voucher.offers.get().condition.range for voucher in Voucher.objects.all()
    } == {shared}


def test_existing_code_rejected_in_any_case(mug):
    registry.create_discount_code(code="WELCOME", kind="percent", value=5)

    with pytest.raises(DiscountCodeTaken) as raised:
        registry.create_discount_code(code="welcome", kind="amount", value=5)

    assert raised.value.field == "code"
    assert Voucher.objects.count() == 1


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "TWO WORDS"}, "code"),
        ({"code": "X" * 41}, "code"),
        ({"kind": "bogo"}, "kind"),
        ({"value": 0}, "value"),
        ({"value": "-5"}, "value"),
        ({"value": "ten"}, "value"),
        ({"value": 101}, "value"),
        ({"value": 10.5}, "value"),
        ({"value": "2.505"}, "value"),
        ({"valid_until": timezone.now().replace(tzinfo=None)}, "valid_until"),
        ({"valid_until": timezone.now() - timedelta(minutes=1)}, "valid_until"),
        ({"single_use": "yes"}, "single_use"),
    ],
)
def test_bad_arguments_write_nothing(arguments, field):
    with pytest.raises(InvalidDiscountCode) as raised:
        registry.create_discount_code(
            **{"code": "GOOD", "kind": "percent", "value": 10, **arguments}
        )

    assert raised.value.field == field
    assert not Voucher.objects.exists()
    assert not Range.objects.exists()


def test_code_used_at_checkout_recorded(browser, country, mug):
    code = registry.create_discount_code(code="cart10", kind="percent", value=10)
    browser.post(reverse("basket:add", kwargs={"pk": mug.pk}), {"quantity": 1})
    browser.post(reverse("basket:vouchers-add"), {"code": "cart10"})

    response = check_out(browser, guest_email="anna.example@example.com")

    assert response.status_code == 302
    used = Event.objects.get(name="discount_code_used")
    assert used.properties["code"] == code
    assert used.profile.email == "anna.example@example.com"
    assert Event.objects.get(name="order_placed").revenue == Decimal("13.41")
