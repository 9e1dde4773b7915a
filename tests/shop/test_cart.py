from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from shop.cart import SESSION_CART_ID
from shop.models import Cart, CartLine
from tests.shop.factories import (
    PASSWORD,
    CartFactory,
    CartLineFactory,
    ProductFactory,
    UserFactory,
)
from tests.shop.helpers import add_to_cart, message_texts, open_cart

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_cart_add_anonymous_creates_session_cart(client):
    mug = ProductFactory(sku="MUG-042", price=Decimal("14.90"))

    response = add_to_cart(client, mug)

    assert response.status_code == 302
    assert response.url == reverse("shop:cart")
    cart = Cart.objects.get()
    assert cart.session_key == client.session.session_key
    assert cart.user is None
    assert cart.status == Cart.Status.OPEN
    assert client.session[SESSION_CART_ID] == cart.pk
    line = cart.lines.get()
    assert line.product == mug
    assert line.quantity == 1
    assert line.unit_price == Decimal("14.90")


def test_cart_add_twice_adds_quantity(client):
    mug = ProductFactory(price=Decimal("14.90"))

    add_to_cart(client, mug, 2)
    add_to_cart(client, mug, 3)

    cart = open_cart(client)
    assert cart.lines.count() == 1
    assert cart.lines.get().quantity == 5
    assert cart.total == Decimal("74.50")
    assert cart.item_count == 5


def test_cart_add_takes_current_price(client):
    mug = ProductFactory(price=Decimal("14.90"))
    add_to_cart(client, mug)
    mug.price = Decimal("12.90")
    mug.save()

    add_to_cart(client, mug)

    assert open_cart(client).lines.get().unit_price == Decimal("12.90")


def test_cart_add_beyond_stock_rejected(client):
    mug = ProductFactory(name="Mug", stock=2)
    add_to_cart(client, mug, 2)

    response = add_to_cart(client, mug, 1)

    assert response.status_code == 302
    assert response.url == mug.get_absolute_url()
    assert open_cart(client).lines.get().quantity == 2
    page = client.get(response.url)
    assert "Only 2 of Mug left in stock." in message_texts(page)


def test_cart_add_sold_out_rejected(client):
    parka = ProductFactory(name="City Parka", stock=0)

    add_to_cart(client, parka)

    assert not CartLine.objects.exists()


def test_cart_add_inactive_product_not_found(client):
    retired = ProductFactory(is_active=False)

    response = add_to_cart(client, retired)

    assert response.status_code == 404
    assert not Cart.objects.exists()


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "1000"])
def test_cart_add_invalid_quantity_rejected(client, quantity):
    mug = ProductFactory()

    response = client.post(
        reverse("shop:cart_add", args=[mug.pk]), {"quantity": quantity}
    )

    assert response.status_code == 302
    assert not CartLine.objects.exists()


def test_cart_add_get_not_allowed(client):
    mug = ProductFactory()

    response = client.get(reverse("shop:cart_add", args=[mug.pk]))

    assert response.status_code == 405


def test_cart_add_other_currency_rejected(client):
    add_to_cart(client, ProductFactory(currency="EUR"))
    swiss = ProductFactory(name="Swiss Mug", currency="CHF")

    add_to_cart(client, swiss)

    cart = open_cart(client)
    assert cart.lines.count() == 1
    assert cart.currency == "EUR"


def test_cart_update_sets_quantity(client):
    mug = ProductFactory(stock=10)
    add_to_cart(client, mug)
    line = open_cart(client).lines.get()

    response = client.post(reverse("shop:cart_update", args=[line.pk]), {"quantity": 4})

    assert response.status_code == 302
    line.refresh_from_db()
    assert line.quantity == 4


def test_cart_update_beyond_stock_keeps_quantity(client):
    mug = ProductFactory(stock=3)
    add_to_cart(client, mug)
    line = open_cart(client).lines.get()

    client.post(reverse("shop:cart_update", args=[line.pk]), {"quantity": 4})

    line.refresh_from_db()
    assert line.quantity == 1


def test_cart_update_zero_removes_line(client):
    add_to_cart(client, ProductFactory())
    line = open_cart(client).lines.get()

    client.post(reverse("shop:cart_update", args=[line.pk]), {"quantity": 0})

    assert not CartLine.objects.filter(pk=line.pk).exists()
    assert open_cart(client).total == Decimal("0.00")


def test_cart_remove_deletes_line(client):
    mug = ProductFactory()
    scarf = ProductFactory()
    add_to_cart(client, mug)
    add_to_cart(client, scarf)
    cart = open_cart(client)
    mug_line = cart.lines.get(product=mug)

    response = client.post(reverse("shop:cart_remove", args=[mug_line.pk]))

    assert response.status_code == 302
    assert list(cart.lines.values_list("product", flat=True)) == [scarf.pk]


def test_cart_line_of_other_visitor_not_found(client):
    other_line = CartLineFactory()
    add_to_cart(client, ProductFactory())

    response = client.post(
        reverse("shop:cart_update", args=[other_line.pk]), {"quantity": 5}
    )

    assert response.status_code == 404
    other_line.refresh_from_db()
    assert other_line.quantity == 1


def test_cart_line_change_without_cart_forbidden(client):
    other_line = CartLineFactory()

    response = client.post(reverse("shop:cart_remove", args=[other_line.pk]))

    assert response.status_code == 403
    assert CartLine.objects.filter(pk=other_line.pk).exists()


def test_cart_page_shows_lines_and_totals(client):
    mug = ProductFactory(name="Stoneware Mug", price=Decimal("14.90"))
    add_to_cart(client, mug, 2)

    response = client.get(reverse("shop:cart"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Stoneware Mug" in body
    assert "€29.80" in body
    assert "Cart (2)" in body


def test_cart_page_empty(client):
    response = client.get(reverse("shop:cart"))

    assert response.status_code == 200
    assert "Your cart is empty." in response.content.decode()


def test_cart_attached_to_user_on_login(client):
    user = UserFactory(email="lena.beispiel@example.org")
    mug = ProductFactory()
    add_to_cart(client, mug)
    cart = open_cart(client)

    response = client.post(
        reverse("shop:login"),
        {"username": "Lena.Beispiel@example.org", "password": PASSWORD},
    )

    assert response.status_code == 302
    cart.refresh_from_db()
    assert cart.user == user
    assert cart.session_key == client.session.session_key
    assert cart.email == "lena.beispiel@example.org"
    cart_page = client.get(reverse("shop:cart"))
    assert mug.name in cart_page.content.decode()


def test_cart_login_merges_older_user_cart(client):
    user = UserFactory()
    gloves = ProductFactory(stock=5)
    mug = ProductFactory(stock=5)
    older = CartFactory(user=user)
    CartLineFactory(cart=older, product=gloves, quantity=1)
    CartLineFactory(cart=older, product=mug, quantity=4)
    add_to_cart(client, mug, 3)
    session_cart = open_cart(client)

    client.post(
        reverse("shop:login"), {"username": user.username, "password": PASSWORD}
    )

    assert not Cart.objects.filter(pk=older.pk).exists()
    session_cart.refresh_from_db()
    assert session_cart.user == user
    quantities = dict(session_cart.lines.values_list("product", "quantity"))
    assert quantities == {gloves.pk: 1, mug.pk: 5}


def test_cart_login_keeps_user_cart_without_session_cart(client):
    user = UserFactory()
    older = CartFactory(user=user, session_key="old-session")
    CartLineFactory(cart=older)

    client.post(
        reverse("shop:login"), {"username": user.username, "password": PASSWORD}
    )

    older.refresh_from_db()
    assert older.status == Cart.Status.OPEN
    assert older.session_key == client.session.session_key


def test_cart_logout_starts_empty_cart(client):
    user = UserFactory()
    client.post(
        reverse("shop:login"), {"username": user.username, "password": PASSWORD}
    )
    add_to_cart(client, ProductFactory())

    client.post(reverse("shop:logout"))
    response = client.get(reverse("shop:cart"))

    assert "Your cart is empty." in response.content.decode()
    assert Cart.objects.get().user == user


def test_cart_total_sums_lines():
    cart = CartFactory()
    CartLineFactory(cart=cart, quantity=2, unit_price=Decimal("14.90"))
    CartLineFactory(cart=cart, quantity=1, unit_price=Decimal("0.10"))

    assert cart.total == Decimal("29.90")
    assert cart.item_count == 3


def test_cart_line_unique_per_product():
    line = CartLineFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        CartLineFactory(cart=line.cart, product=line.product)
