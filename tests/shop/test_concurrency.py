"""Two checkouts racing for the same last item and single-use code."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from shop.models import Discount, Order, Product
from shop.services import CheckoutError, place_order
from tests.shop.factories import (
    CartFactory,
    CartLineFactory,
    DiscountFactory,
    ProductFactory,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
]


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are only tested on PostgreSQL")


def race(carts, discount_code: str) -> list[object]:
    """Run place_order for all carts at once and return each Order or CheckoutError."""
    barrier = threading.Barrier(len(carts))
    results: list[object] = [None] * len(carts)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = place_order(
                carts[index],
                email=f"buyer{index}@example.com",
                discount_code=discount_code,
            )
        except CheckoutError as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(carts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_race_single_use_code_claimed_once():
    mug = ProductFactory(price=Decimal("14.90"), stock=10)
    DiscountFactory(code="ONCE", single_use=True)
    carts = [CartFactory() for _ in range(2)]
    for cart in carts:
        CartLineFactory(cart=cart, product=mug)

    results = race(carts, "ONCE")

    orders = [result for result in results if isinstance(result, Order)]
    errors = [result for result in results if isinstance(result, CheckoutError)]
    assert len(orders) == 1
    assert len(errors) == 1
    assert errors[0].field == "discount_code"
    assert Discount.objects.get(code="ONCE").used_by_order == orders[0]
    assert Order.objects.count() == 1


def test_race_last_item_sold_once():
    mug = ProductFactory(name="Last Mug", stock=1)
    carts = [CartFactory() for _ in range(2)]
    for cart in carts:
        CartLineFactory(cart=cart, product=mug)

    results = race(carts, "")

    orders = [result for result in results if isinstance(result, Order)]
    assert len(orders) == 1
    assert Order.objects.count() == 1
    assert Product.objects.get(pk=mug.pk).stock == 0
