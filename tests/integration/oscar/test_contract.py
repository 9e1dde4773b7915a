"""The adapter test kit run against the Oscar adapters."""

import pytest
from oscar.test import factories

from omnichannel.integrations.testing import CartAdapterContract, OrderAdapterContract


class TestOscarOrderAdapter(OrderAdapterContract):
    model_label = "order.Order"

    @pytest.fixture(autouse=True)
    def _catalogue(self, customer, make_basket, make_product):
        self.customer = customer
        self.make_basket = make_basket
        self.mug = make_product(sku="MUG-042")

    def create_order(self):
        basket = self.make_basket((self.mug, 2), owner=self.customer)
        return factories.create_order(basket=basket, user=self.customer)

    def cancel_order(self, order):
        order.set_status("Cancelled")


class TestOscarBasketAdapter(CartAdapterContract):
    model_label = "basket.Basket"

    @pytest.fixture(autouse=True)
    def _catalogue(self, customer, make_basket, make_product):
        self.customer = customer
        self.make_basket = make_basket
        self.mug = make_product(sku="MUG-042")
        self.plate = make_product(title="Plate", sku="PLATE-7")

    def create_cart(self):
        return self.make_basket((self.mug, 1), owner=self.customer)

    def change_cart(self, basket):
        basket.add_product(self.plate, 2)

    def convert_cart(self, basket):
        factories.create_order(basket=basket, user=self.customer)
