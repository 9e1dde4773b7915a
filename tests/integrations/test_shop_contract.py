"""The adapter test kit run against the example shop's adapters."""

import pytest

from tests.settings import HAS_SHOP

if not HAS_SHOP:
    pytest.skip("the example shop is not on the path", allow_module_level=True)

from omnichannel.integrations import registry  # noqa: E402
from omnichannel.integrations.testing import (  # noqa: E402
    CartAdapterContract,
    OrderAdapterContract,
)
from shop import services  # noqa: E402
from shop.cart import add_product  # noqa: E402
from shop.models import Discount, Order  # noqa: E402
from tests.shop.factories import CartFactory, ProductFactory  # noqa: E402

EMAIL = "anna.example@example.com"


def fill_cart():
    cart = CartFactory(email=EMAIL)
    add_product(cart, ProductFactory(), 1)
    return cart


class TestShopOrderAdapter(OrderAdapterContract):
    model_label = "shop.Order"

    def create_order(self):
        return services.place_order(fill_cart(), email=EMAIL)

    def cancel_order(self, order):
        order.status = Order.Status.CANCELLED
        order.save()


class TestShopCartAdapter(CartAdapterContract):
    model_label = "shop.Cart"

    def create_cart(self):
        return fill_cart()

    def change_cart(self, cart):
        add_product(cart, ProductFactory(), 2)

    def convert_cart(self, cart):
        services.place_order(cart, email=EMAIL)


@pytest.mark.django_db
def test_shop_code_accepted_at_checkout():
    code = registry.create_discount_code(code="Welcome10", kind="percent", value=10)

    order = services.place_order(fill_cart(), email=EMAIL, discount_code="welcome10")

    assert code == "Welcome10"
    assert Discount.objects.get().used_by_order == order
    assert order.discount_code == "Welcome10"
