"""The example shop's adapters: its orders and carts become events on one profile."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from omnichannel.profiles.models import Event, Profile
from shop.models import Cart, Order
from shop.services import place_order
from tests.shop.factories import CartFactory, CartLineFactory, ProductFactory
from tests.shop.helpers import add_to_cart, checkout, open_cart

pytestmark = pytest.mark.django_db

BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def mug():
    return ProductFactory(
        sku="MUG-042", name="Stoneware Mug", price=Decimal("14.90"), stock=100
    )


def test_guest_cart_and_account_checkout_make_one_profile(client, mug):
    client.get("/", **BROWSER)
    add_to_cart(client, mug)
    cart = open_cart(client)
    anonymous = Event.objects.get(name="cart_updated").profile
    assert anonymous.email == ""

    checkout(
        client,
        email="lena.beispiel@example.org",
        create_account="on",
        password="Winter-Mug-2026",
    )

    live = Profile.objects.filter(merged_into__isnull=True)
    assert live.count() == 1
    profile = live.get()
    assert profile.email == "lena.beispiel@example.org"
    assert profile.user is not None
    assert profile.order_count == 1
    assert profile.total_spent == Decimal("19.80")
    order_event = profile.events.get(name="order_placed")
    assert order_event.properties["lines"][0]["sku"] == "MUG-042"
    assert order_event.properties["cart_id"] == str(cart.pk)
    converted = profile.events.get(name="cart_converted")
    assert converted.object_id == str(cart.pk)
    assert profile.events.filter(name="cart_updated").count() == 1
    assert profile.events.filter(name="page_viewed").exists()


def test_rolled_back_order_leaves_no_trace(mug):
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug, quantity=1, unit_price=mug.price)
    events_before = Event.objects.exclude(name="cart_updated").count()

    with pytest.raises(RuntimeError), transaction.atomic():
        place_order(cart, email="zoe.sample@example.com")
        raise RuntimeError("payment provider failed")

    assert Order.objects.count() == 0
    assert Event.objects.exclude(name="cart_updated").count() == events_before
    assert not Profile.objects.filter(email="zoe.sample@example.com").exists()


def test_order_states_recorded_once(mug):
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug, quantity=2, unit_price=mug.price)
    order = place_order(cart, email="anna.example@example.com")
    order.mark_paid()
    order.save()
    order.save()

    names = list(
        Event.objects.filter(object_type="order").values_list("name", flat=True)
    )
    assert sorted(names) == ["order_paid", "order_placed"]
    profile = Profile.objects.get(email="anna.example@example.com")
    assert profile.order_count == 1
    assert profile.total_spent == order.total


def test_cancelled_order_reverses_aggregates(mug):
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug, quantity=1, unit_price=mug.price)
    order = place_order(cart, email="anna.example@example.com")
    order.status = Order.Status.CANCELLED
    order.save()
    profile = Profile.objects.get(email="anna.example@example.com")
    assert profile.order_count == 0
    assert profile.total_spent == Decimal("0")


def test_unchanged_cart_save_adds_no_event(client, mug):
    add_to_cart(client, mug)
    cart = Cart.objects.get()
    cart.save()
    cart.save()
    assert Event.objects.filter(name="cart_updated").count() == 1
    client.post(reverse("shop:cart_add", args=[mug.pk]), {"quantity": 1})
    assert Event.objects.filter(name="cart_updated").count() == 2
