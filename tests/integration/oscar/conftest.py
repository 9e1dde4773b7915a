"""Fixtures of the django-oscar tests: a small catalogue and Oscar's own order code."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from omnichannel.profiles.models import Event

Basket = get_model("basket", "Basket")
Country = get_model("address", "Country")
Category = get_model("catalogue", "Category")
ProductCategory = get_model("catalogue", "ProductCategory")
Default = get_class("partner.strategy", "Default")


@pytest.fixture
def country(db):
    return Country.objects.create(
        iso_3166_1_a2="DE",
        iso_3166_1_a3="DEU",
        iso_3166_1_numeric="276",
        printable_name="Germany",
        name="Germany",
        is_shipping_country=True,
    )


@pytest.fixture
def make_product(db):
    """Return a function that creates a product with stock and a category."""

    def make(
        title="Enamel mug",
        price=Decimal("14.90"),
        num_in_stock=5,
        sku=None,
        category="Mugs",
    ):
        product = factories.create_product(
            title=title,
            upc=sku,
            price=price,
            num_in_stock=num_in_stock,
            partner_sku=sku,
        )
        if category:
            node = Category.objects.filter(name=category).first()
            if node is None:
                node = Category.objects.add_root(create_kwargs={"name": category})
            ProductCategory.objects.create(product=product, category=node)
        return product

    return make


@pytest.fixture
def mug(make_product):
    return make_product(sku="MUG-042")


@pytest.fixture
def customer(db):
    return get_user_model().objects.create_user(
        username="lena",
        email="lena.beispiel@example.org",
        password="a-long-test-password",
        first_name="Lena",
        last_name="Beispiel",
    )


@pytest.fixture
def make_basket(db):
    """Return a function that fills a basket with (product, quantity) pairs."""

    def make(*items, owner=None):
        basket = Basket.objects.create(owner=owner)
        basket.strategy = Default()
        for product, quantity in items:
            basket.add_product(product, quantity)
        return basket

    return make


@pytest.fixture
def place_order(make_basket, mug):
    """Return a function that places an order through Oscar's OrderCreator."""

    def place(basket=None, **kwargs):
        if basket is None:
            basket = make_basket((mug, 1), owner=kwargs.get("user"))
        return factories.create_order(basket=basket, **kwargs)

    return place


def events(name, **filters):
    return Event.objects.filter(name=name, **filters)


def pytest_collection_modifyitems(config, items):
    # Oscar 4.2 still calls tree methods that django-treebeard 7 deprecates
    # (Category.get_tree() and others); the warning is Oscar's to fix.
    ignore_treebeard = pytest.mark.filterwarnings(
        r"ignore:Using Category\.\w+\(\) is deprecated:DeprecationWarning"
    )
    for item in items:
        item.add_marker(ignore_treebeard)


BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def browser():
    """A test client that sends a browser's User-Agent, so views are not bot traffic."""
    return Client(headers={"user-agent": BROWSER})


SHIPPING_ADDRESS = {
    "first_name": "Lena",
    "last_name": "Beispiel",
    "line1": "Hauptstrasse 5",
    "line4": "Berlin",
    "postcode": "10115",
    "phone_number": "+49 30 901820",
}


def check_out(client, *, guest_email=None):
    """Walk Oscar's checkout views from the gateway to the placed order.

    Return the response of the place-order request.
    """
    if guest_email:
        response = client.post(
            reverse("checkout:index"),
            {"username": guest_email, "options": "anonymous"},
        )
        assert response.status_code == 302, response.content[:2000]
    response = client.post(reverse("checkout:shipping-address"), SHIPPING_ADDRESS)
    assert response.status_code == 302, response.content[:2000]
    response = client.get(reverse("checkout:shipping-method"))
    assert response.status_code == 302, response.content[:2000]
    response = client.get(reverse("checkout:preview"))
    assert response.status_code == 200, response.content[:2000]
    return client.post(reverse("checkout:preview"), {"action": "place_order"})
