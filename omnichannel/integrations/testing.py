"""A test kit a shop runs against its own adapters (pytest and pytest-django).

Subclass a contract, say how to make the shop's objects, and pytest collects the
checks::

    from omnichannel.integrations.testing import OrderAdapterContract


    class TestOrderAdapter(OrderAdapterContract):
        model_label = "shop.Order"
        adapter_path = "shop.adapters.OrderAdapter"

        def create_order(self):
            return place_an_order_the_way_the_shop_does()

        def cancel_order(self, order):
            order.cancel()

Each check configures the adapter with ``SHOP_ADAPTER_ERRORS = "raise"`` so that an
adapter error fails the test instead of being logged. The checks write to the test
database through the shop's own code, so they need pytest-django's ``db`` access,
which the contracts request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.exceptions import DiscountCodeTaken, InvalidDiscountCode
from omnichannel.integrations import registry
from omnichannel.integrations.abandonment import detect_abandoned_carts
from omnichannel.integrations.base import (
    CartAdapter,
    CartData,
    OrderAdapter,
    OrderData,
    ShopAdapter,
)
from omnichannel.integrations.contract import check_cart_data, check_order_data


class _RollBack(Exception):
    """Raised inside a test's atomic block to undo it."""


class AdapterContract:
    """Shared set-up of the contracts.

    Subclass OrderAdapterContract or CartAdapterContract instead of this class.
    """

    pytestmark = pytest.mark.django_db

    #: Label of the shop's model, such as ``"shop.Order"``.
    model_label: str = ""
    #: Dotted path of the adapter class; empty uses the one in the settings.
    adapter_path: str = ""

    @pytest.fixture(autouse=True)
    def _configure_adapter(self) -> Iterator[None]:
        current = dict(getattr(settings, "OMNICHANNEL", {}) or {})
        adapters = dict(current.get("SHOP_ADAPTERS") or {})
        if self.adapter_path:
            adapters[self.model_label] = self.adapter_path
        if self.model_label not in adapters:
            pytest.fail(
                f"{type(self).__name__}: set adapter_path, or name {self.model_label!r}"
                " in OMNICHANNEL['SHOP_ADAPTERS']."
            )
        configured = {
            **current,
            "SHOP_ADAPTERS": adapters,
            "SHOP_ADAPTER_ERRORS": "raise",
        }
        with override_settings(OMNICHANNEL=configured):
            yield

    @property
    def adapter(self) -> ShopAdapter:
        """Return the connected adapter of ``model_label``."""
        adapters = registry.configured_adapters()
        assert self.model_label in adapters, (
            f"the adapter of {self.model_label} was not connected; run "
            "`manage.py check` for the reason"
        )
        return adapters[self.model_label]

    def events(self, name: str, object_type: str, object_id: str) -> Any:
        """Return the events of one order or cart with the given name."""
        from omnichannel.profiles.models import Event

        return Event.objects.filter(
            name=name, object_type=object_type, object_id=object_id
        )

    def counts(self) -> tuple[int, int]:
        """Return the numbers of events and profiles."""
        from omnichannel.profiles.models import Event, Profile

        return Event.objects.count(), Profile.objects.count()


class OrderAdapterContract(AdapterContract):
    """Checks of an order adapter. Override ``create_order`` and ``cancel_order``."""

    def create_order(self) -> Any:
        """Place and return an order with one line or more and a customer email."""
        raise NotImplementedError("Override create_order() to place an order.")

    def cancel_order(self, order: Any) -> None:
        """Cancel ``order`` the way the shop does, saving it."""
        raise NotImplementedError("Override cancel_order() to cancel an order.")

    def save_again(self, order: Any) -> None:
        """Save ``order`` unchanged; override when the shop saves orders differently."""
        order.save()

    def read(self, order: Any) -> OrderData:
        adapter = self.adapter
        assert isinstance(adapter, OrderAdapter), f"{adapter!r} is not an OrderAdapter"
        return check_order_data(adapter.read(order), adapter)

    def test_read_returns_order_data(self) -> None:
        data = self.read(self.create_order())
        customer = data.customer
        assert data.is_placed
        assert data.lines, "create_order() must place an order with lines"
        assert customer.email or customer.phone or customer.user or customer.external_id

    def test_placed_order_records_order_placed(self) -> None:
        data = self.read(self.create_order())
        placed = list(self.events("order_placed", "order", data.order_id))
        assert len(placed) == 1
        assert placed[0].revenue == data.total
        assert placed[0].currency == data.currency
        assert placed[0].properties["lines"]

    def test_saving_again_adds_no_event(self) -> None:
        order = self.create_order()
        data = self.read(order)
        before = self.counts()
        self.save_again(order)
        self.save_again(order)
        assert self.counts() == before
        assert self.events("order_placed", "order", data.order_id).count() == 1

    def test_rolled_back_order_leaves_no_trace(self) -> None:
        before = self.counts()
        with pytest.raises(_RollBack), transaction.atomic():
            self.create_order()
            raise _RollBack
        assert self.counts() == before

    def test_cancelling_reverses_aggregates(self) -> None:
        order = self.create_order()
        data = self.read(order)
        profile = self.events("order_placed", "order", data.order_id).get().profile
        orders_before = profile.order_count
        spent_before = profile.total_spent

        self.cancel_order(order)

        profile.refresh_from_db()
        assert self.events("order_cancelled", "order", data.order_id).count() == 1
        assert profile.order_count == orders_before - 1
        assert profile.total_spent == spent_before - data.total

    def test_create_discount_code(self) -> None:
        adapter = self.adapter
        if type(adapter).create_discount_code is ShopAdapter.create_discount_code:
            pytest.skip(f"{type(adapter).__qualname__} does not create discount codes")
        code = "T" + uuid.uuid4().hex[:10].upper()
        arguments = {
            "kind": "percent",
            "value": Decimal("10"),
            "valid_until": timezone.now() + timedelta(days=30),
            "single_use": True,
            "profile": None,
        }

        created = adapter.create_discount_code(code=code, **arguments)

        assert isinstance(created, str)
        assert created.upper() == code
        with pytest.raises(DiscountCodeTaken):
            adapter.create_discount_code(code=code, **arguments)
        with pytest.raises(InvalidDiscountCode) as raised:
            adapter.create_discount_code(code=code + "K", **{**arguments, "kind": "x"})
        assert raised.value.field == "kind"
        with pytest.raises(InvalidDiscountCode) as raised:
            adapter.create_discount_code(
                code=code + "V", **{**arguments, "value": Decimal("150")}
            )
        assert raised.value.field == "value"


class CartAdapterContract(AdapterContract):
    """Checks of a cart adapter. Override ``create_cart``, ``change_cart`` and
    ``convert_cart``."""

    def create_cart(self) -> Any:
        """Create and return a cart with one line or more and an identified customer."""
        raise NotImplementedError("Override create_cart() to fill a cart.")

    def change_cart(self, cart: Any) -> None:
        """Change the cart's lines (add a product, change a quantity) and save."""
        raise NotImplementedError("Override change_cart() to change a cart.")

    def convert_cart(self, cart: Any) -> None:
        """Turn the cart into an order the way the shop's checkout does."""
        raise NotImplementedError("Override convert_cart() to check a cart out.")

    def save_again(self, cart: Any) -> None:
        """Save ``cart`` unchanged; override when the shop saves carts differently."""
        cart.save()

    def read(self, cart: Any) -> CartData:
        adapter = self.adapter
        assert isinstance(adapter, CartAdapter), f"{adapter!r} is not a CartAdapter"
        return check_cart_data(adapter.read(cart), adapter)

    def test_read_returns_cart_data(self) -> None:
        data = self.read(self.create_cart())
        assert data.lines, "create_cart() must fill the cart"
        assert data.is_open
        assert not data.is_converted

    def test_new_cart_records_cart_updated(self) -> None:
        data = self.read(self.create_cart())
        updates = list(self.events("cart_updated", "cart", data.cart_id))
        assert len(updates) == 1
        assert updates[0].properties["total"] == str(data.total)

    def test_saving_unchanged_cart_adds_no_event(self) -> None:
        cart = self.create_cart()
        before = self.counts()
        self.save_again(cart)
        assert self.counts() == before

    def test_change_records_cart_updated(self) -> None:
        cart = self.create_cart()
        data = self.read(cart)
        self.change_cart(cart)
        updates = self.events("cart_updated", "cart", data.cart_id)
        assert updates.count() == 2

    def test_conversion_records_cart_converted(self) -> None:
        cart = self.create_cart()
        data = self.read(cart)
        self.convert_cart(cart)
        assert self.events("cart_converted", "cart", data.cart_id).count() == 1

    def test_rolled_back_cart_leaves_no_trace(self) -> None:
        before = self.counts()
        with pytest.raises(_RollBack), transaction.atomic():
            self.create_cart()
            raise _RollBack
        assert self.counts() == before

    def test_idle_cart_is_reported_once(self) -> None:
        data = self.read(self.create_cart())
        update = self.events("cart_updated", "cart", data.cart_id).get()
        later = update.occurred_at + app_settings.CART_ABANDONED_AFTER

        detect_abandoned_carts(now=later)
        repeated = detect_abandoned_carts(now=later)

        assert self.events("cart_abandoned", "cart", data.cart_id).count() == 1
        assert repeated == 0

    def test_converted_cart_is_not_reported(self) -> None:
        cart = self.create_cart()
        data = self.read(cart)
        self.convert_cart(cart)
        later = timezone.now() + app_settings.CART_ABANDONED_AFTER * 2

        detect_abandoned_carts(now=later)

        assert self.events("cart_abandoned", "cart", data.cart_id).count() == 0
