from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from omnichannel.exceptions import DiscountCodeTaken, InvalidDiscountCode
from omnichannel.integrations.base import OrderAdapter as BaseOrderAdapter
from shop.models import Discount
from shop.omnichannel_adapters import OrderAdapter

pytestmark = pytest.mark.django_db

LATER = datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC"))


def create(**fields):
    values = {
        "code": "VIP-ABCDEFGHJK",
        "kind": "percent",
        "value": Decimal("15"),
        "valid_until": LATER,
        "single_use": True,
        "profile": None,
    }
    values.update(fields)
    return OrderAdapter().create_discount_code(**values)


def test_create_discount_code_writes_shop_discount():
    assert create() == "VIP-ABCDEFGHJK"

    discount = Discount.objects.get()
    assert discount.kind == "percent"
    assert discount.value == Decimal("15")
    assert discount.valid_until == LATER
    assert discount.single_use is True


def test_create_discount_code_free_shipping_ignores_value():
    create(kind="free_shipping", value=Decimal("99"))

    assert Discount.objects.get().value == Decimal("0")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "gift"}, "kind"),
        ({"value": "lots"}, "value"),
        ({"value": Decimal("150")}, "value"),
        ({"kind": "amount", "value": Decimal("0")}, "value"),
    ],
)
def test_create_discount_code_bad_arguments(fields, field):
    with pytest.raises(InvalidDiscountCode) as caught:
        create(**fields)

    assert caught.value.field == field
    assert not Discount.objects.exists()


def test_create_discount_code_taken_in_any_case():
    create()

    with pytest.raises(DiscountCodeTaken):
        create(code="vip-abcdefghjk")


def test_base_adapter_cannot_create_codes():
    with pytest.raises(NotImplementedError, match="create_discount_code"):
        BaseOrderAdapter().create_discount_code(
            code="X",
            kind="percent",
            value=Decimal("1"),
            valid_until=None,
            single_use=True,
            profile=None,
        )


def create_many(codes, **fields):
    values = {
        "kind": "percent",
        "value": Decimal("15"),
        "valid_until": LATER,
        "single_use": True,
        "profiles": [None] * len(codes),
    }
    values.update(fields)
    return OrderAdapter().create_discount_codes(codes, **values)


def test_create_discount_codes_writes_all_in_order():
    codes = ["VIP-AAAAAAAAAA", "VIP-BBBBBBBBBB", "VIP-CCCCCCCCCC"]

    assert create_many(codes) == codes

    assert sorted(Discount.objects.values_list("code", flat=True)) == codes
    assert set(Discount.objects.values_list("kind", flat=True)) == {"percent"}


def test_create_discount_codes_taken_in_any_case_writes_none():
    Discount.objects.create(code="vip-bbbbbbbbbb", kind="percent", value=Decimal("5"))

    with pytest.raises(DiscountCodeTaken):
        create_many(["VIP-AAAAAAAAAA", "VIP-BBBBBBBBBB"])

    assert list(Discount.objects.values_list("code", flat=True)) == ["vip-bbbbbbbbbb"]


def test_create_discount_codes_repeated_code_rejected():
    with pytest.raises(DiscountCodeTaken):
        create_many(["VIP-AAAAAAAAAA", "vip-aaaaaaaaaa"])

    assert not Discount.objects.exists()


def test_create_discount_codes_bad_argument_names_field():
    with pytest.raises(InvalidDiscountCode) as caught:
        create_many(["VIP-AAAAAAAAAA"], kind="gift")

    assert caught.value.field == "kind"
    assert not Discount.objects.exists()


def test_create_discount_codes_needs_profile_per_code():
    with pytest.raises(ValueError, match="one entry per code"):
        create_many(["VIP-AAAAAAAAAA"], profiles=[])
