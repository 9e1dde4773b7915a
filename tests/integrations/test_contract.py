"""The checks of what adapters return and of discount-code arguments."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omnichannel.exceptions import AdapterError, InvalidDiscountCode
from omnichannel.integrations.base import CartData, Customer, Line, OrderData
from omnichannel.integrations.contract import (
    DiscountKind,
    check_cart_data,
    check_order_data,
    clean_discount_code_request,
)

NOW = datetime(2026, 12, 4, 13, 3, tzinfo=UTC)
LINE = Line(sku="MUG-042", name="Mug", quantity=1, unit_price=Decimal("14.90"))
ORDER = OrderData(
    order_id="1001",
    customer=Customer(email="lena.beispiel@example.org"),
    total=Decimal("14.90"),
    currency="EUR",
    created_at=NOW,
    lines=[LINE],
)
CART = CartData(
    cart_id="7",
    customer=Customer(),
    total=Decimal("14.90"),
    currency="EUR",
    updated_at=NOW,
    lines=[LINE],
)


def test_good_data_passes():
    assert check_order_data(ORDER) is ORDER
    assert check_cart_data(CART) is CART


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"order_id": ""}, "order_id"),
        ({"order_id": 1001}, "order_id"),
        ({"order_id": "x" * 65}, "order_id"),
        ({"cart_id": None}, "cart_id"),
        ({"customer": {"email": "a@example.org"}}, "customer"),
        ({"customer": Customer(email=None)}, "customer.email"),
        ({"total": 14.9}, "total"),
        ({"total": Decimal("NaN")}, "total"),
        ({"total": Decimal("-1")}, "total"),
        ({"currency": "eur"}, "currency"),
        ({"created_at": NOW.replace(tzinfo=None)}, "created_at"),
        ({"created_at": "2026-12-04"}, "created_at"),
        ({"lines": (LINE,)}, "lines"),
        ({"lines": [{"sku": "MUG-042"}]}, "lines[0]"),
        ({"lines": [replace(LINE, quantity=1.0)]}, "lines[0].quantity"),
        ({"lines": [replace(LINE, quantity=True)]}, "lines[0].quantity"),
        ({"lines": [replace(LINE, quantity=-1)]}, "lines[0].quantity"),
        ({"lines": [replace(LINE, unit_price="14.90")]}, "lines[0].unit_price"),
        ({"discount_codes": "WELCOME"}, "discount_codes"),
        ({"discount_codes": [""]}, "discount_codes"),
        ({"is_paid": 1}, "is_paid"),
    ],
)
def test_bad_order_data_names_field(changes, field):
    with pytest.raises(AdapterError) as raised:
        check_order_data(replace(ORDER, **changes))

    assert f"read().{field}" in str(raised.value)


def test_wrong_type_names_adapter():
    class ShopOrderAdapter:
        pass

    with pytest.raises(AdapterError) as raised:
        check_order_data(CART, ShopOrderAdapter())

    assert str(raised.value) == (
        "test_wrong_type_names_adapter.<locals>.ShopOrderAdapter.read() returned "
        "CartData; expected OrderData."
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cart_id": ""}, "cart_id"),
        ({"updated_at": NOW.replace(tzinfo=None)}, "updated_at"),
        ({"is_open": None}, "is_open"),
        ({"order_id": 7}, "order_id"),
    ],
)
def test_bad_cart_data_names_field(changes, field):
    with pytest.raises(AdapterError) as raised:
        check_cart_data(replace(CART, **changes))

    assert f"read().{field}" in str(raised.value)


def test_discount_request_normalised():
    request = clean_discount_code_request(
        code="  Cart10 ",
        kind="percent",
        value="10",
        valid_until=NOW + timedelta(days=1),
        single_use=False,
        now=NOW,
    )

    assert request.code == "Cart10"
    assert request.kind is DiscountKind.PERCENT
    assert request.value == Decimal("10")
    assert not request.single_use


def test_free_shipping_ignores_value():
    request = clean_discount_code_request(
        code="SHIP", kind="free_shipping", value=None, valid_until=None, single_use=True
    )

    assert request.value == Decimal("0")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": None}, "code"),
        ({"code": "   "}, "code"),
        ({"code": "A\tB"}, "code"),
        ({"kind": "PERCENT"}, "kind"),
        ({"value": None}, "value"),
        ({"value": True}, "value"),
        ({"value": Decimal("Infinity")}, "value"),
        ({"value": Decimal("100.01")}, "value"),
        ({"kind": "amount", "value": Decimal("0")}, "value"),
        ({"valid_until": "2027-01-15"}, "valid_until"),
        ({"valid_until": NOW}, "valid_until"),
        ({"single_use": 1}, "single_use"),
    ],
)
def test_bad_discount_request_names_field(changes, field):
    arguments = {
        "code": "CART10",
        "kind": "percent",
        "value": Decimal("10"),
        "valid_until": None,
        "single_use": True,
        **changes,
    }

    with pytest.raises(InvalidDiscountCode) as raised:
        clean_discount_code_request(**arguments, now=NOW)

    assert raised.value.field == field
