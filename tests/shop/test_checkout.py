import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY, get_user_model
from django.db.models.signals import post_save
from django.urls import reverse

from shop.models import Cart, Order
from shop.services import CheckoutError, place_order
from tests.shop.factories import (
    PASSWORD,
    CartFactory,
    CartLineFactory,
    DiscountFactory,
    ProductFactory,
    UserFactory,
)
from tests.shop.helpers import add_to_cart, checkout, open_cart

pytestmark = pytest.mark.django_db

User = get_user_model()
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def mug():
    return ProductFactory(
        sku="MUG-042", name="Stoneware Mug", price=Decimal("14.90"), stock=100
    )


def test_checkout_guest_creates_order(client, mug):
    add_to_cart(client, mug, 2)
    cart = open_cart(client)

    response = checkout(client, email="guest@example.com", phone="+49 30 1234567")

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    assert order.user is None
    assert order.email == "guest@example.com"
    assert order.phone == "+49 30 1234567"
    assert order.status == Order.Status.PENDING
    assert order.currency == "EUR"
    assert order.subtotal == Decimal("29.80")
    assert order.shipping == Decimal("4.90")
    assert order.total == Decimal("34.70")
    line = order.lines.get()
    assert (line.product, line.sku, line.name) == (mug, "MUG-042", "Stoneware Mug")
    assert (line.quantity, line.unit_price) == (2, Decimal("14.90"))
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CONVERTED
    assert cart.order == order
    assert order.source_cart == cart
    mug.refresh_from_db()
    assert mug.stock == 98
    assert SESSION_KEY not in client.session


def test_checkout_guest_sees_confirmation(client, mug):
    add_to_cart(client, mug)

    response = checkout(client, email="guest@example.com")
    page = client.get(response.url)

    assert page.status_code == 200
    assert Order.objects.get().number in page.content.decode()
    assert "Thank you! Your order has been placed." in page.content.decode()


def test_checkout_guest_next_cart_is_new(client, mug):
    add_to_cart(client, mug)
    checkout(client, email="guest@example.com")

    add_to_cart(client, mug)

    assert Cart.objects.count() == 2
    assert open_cart(client).lines.get().quantity == 1


def test_checkout_creates_account_and_logs_in(client, mug):
    add_to_cart(client, mug)
    cart = open_cart(client)

    response = checkout(
        client,
        email="Lena.Beispiel@example.org",
        create_account="on",
        password="Winter-Mug-2026",
    )

    assert response.status_code == 302
    user = User.objects.get(email="Lena.Beispiel@example.org")
    assert user.username == "lena.beispiel@example.org"
    assert user.check_password("Winter-Mug-2026")
    assert client.session[SESSION_KEY] == str(user.pk)
    order = Order.objects.get()
    assert order.user == user
    cart.refresh_from_db()
    assert cart.user == user
    assert cart.status == Cart.Status.CONVERTED
    assert cart.order == order
    account = client.get(reverse("shop:account"))
    assert order.number in account.content.decode()


def test_checkout_account_existing_email_rejected(client, mug):
    UserFactory(email="lena.beispiel@example.org")
    add_to_cart(client, mug)

    response = checkout(
        client,
        email="LENA.BEISPIEL@example.org",
        create_account="on",
        password="Winter-Mug-2026",
    )

    assert response.status_code == 200
    assert (
        "An account with this email already exists."
        in (response.context["form"].errors["email"][0])
    )
    assert User.objects.count() == 1
    assert not Order.objects.exists()
    assert open_cart(client).status == Cart.Status.OPEN


def test_checkout_account_without_password_rejected(client, mug):
    add_to_cart(client, mug)

    response = checkout(client, email="new@example.com", create_account="on")

    assert response.context["form"].errors["password"] == [
        "Choose a password to create an account."
    ]
    assert not User.objects.exists()
    assert not Order.objects.exists()


def test_checkout_account_weak_password_rejected(client, mug, settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
        {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    ]
    add_to_cart(client, mug)

    response = checkout(
        client, email="new@example.com", create_account="on", password="12345678"
    )

    errors = response.context["form"].errors["password"]
    assert "This password is too common." in errors
    assert "This password is entirely numeric." in errors
    assert not User.objects.exists()
    assert not Order.objects.exists()


def test_checkout_password_ignored_without_account(client, mug):
    add_to_cart(client, mug)

    checkout(client, email="guest@example.com", password="Winter-Mug-2026")

    assert not User.objects.exists()
    assert Order.objects.get().user is None


def test_checkout_logged_in_links_order(client, mug):
    user = UserFactory(email="member@example.com")
    client.force_login(user)
    add_to_cart(client, mug)

    page = client.get(reverse("shop:checkout"))
    response = checkout(client, email="member@example.com")

    assert "create_account" not in page.context["form"].fields
    assert page.context["form"]["email"].initial == "member@example.com"
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.user == user
    assert Cart.objects.get().user == user


def test_checkout_empty_cart_redirects(client):
    response = client.get(reverse("shop:checkout"))

    assert response.status_code == 302
    assert response.url == reverse("shop:cart")


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("", "This field is required."),
        ("not-an-email", "Enter a valid email address."),
    ],
)
def test_checkout_invalid_email_rejected(client, mug, email, expected):
    add_to_cart(client, mug)

    response = checkout(client, email=email)

    assert response.context["form"].errors["email"] == [expected]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "phone", ["12345", "call me", "+49 30 1234567 ext 5", "1" * 16]
)
def test_checkout_invalid_phone_rejected(client, mug, phone):
    add_to_cart(client, mug)

    response = checkout(client, email="guest@example.com", phone=phone)

    assert "is not a phone number" in response.context["form"].errors["phone"][0]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "phone", ["07700 900123", "+44 (0)7700 900123", "0044 7700 900123", "030/1234567"]
)
def test_checkout_phone_kept_as_typed(client, mug, phone):
    add_to_cart(client, mug)

    checkout(client, email="guest@example.com", phone=phone)

    assert Order.objects.get().phone == phone


def test_checkout_failed_form_keeps_email_on_cart(client, mug):
    add_to_cart(client, mug)

    checkout(client, email="guest@example.com", phone="12345")

    assert open_cart(client).email == "guest@example.com"


def test_checkout_insufficient_stock_writes_nothing(client, mug):
    discount = DiscountFactory(code="ONCE", single_use=True)
    add_to_cart(client, mug, 3)
    mug.stock = 2
    mug.save()

    response = checkout(
        client,
        email="new@example.com",
        create_account="on",
        password="Winter-Mug-2026",
        discount_code="ONCE",
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Only 2 of Stoneware Mug left in stock. Lower the quantity in your cart."
    ]
    assert not Order.objects.exists()
    assert not User.objects.exists()
    assert SESSION_KEY not in client.session
    mug.refresh_from_db()
    assert mug.stock == 2
    discount.refresh_from_db()
    assert discount.used_at is None
    assert open_cart(client).status == Cart.Status.OPEN


def test_checkout_inactive_product_rejected(client, mug):
    add_to_cart(client, mug)
    mug.is_active = False
    mug.save()

    response = checkout(client, email="guest@example.com")

    assert response.context["form"].non_field_errors() == [
        "Stoneware Mug is no longer sold. Remove it from your cart."
    ]
    assert not Order.objects.exists()


def test_checkout_uses_current_price(client, mug):
    add_to_cart(client, mug)
    mug.price = Decimal("12.00")
    mug.save()

    checkout(client, email="guest@example.com")

    order = Order.objects.get()
    assert order.lines.get().unit_price == Decimal("12.00")
    assert order.subtotal == Decimal("12.00")


def test_place_order_twice_rejected(mug):
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug)
    place_order(cart, email="guest@example.com")

    with pytest.raises(CheckoutError, match="already been checked out"):
        place_order(cart, email="guest@example.com")

    assert Order.objects.count() == 1


def test_place_order_empty_cart_rejected():
    cart = CartFactory()

    with pytest.raises(CheckoutError, match="Your cart is empty."):
        place_order(cart, email="guest@example.com")

    cart.refresh_from_db()
    assert cart.status == Cart.Status.OPEN


def test_order_number_format(mug):
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug)

    with time_machine.travel(datetime.datetime(2026, 12, 4, 23, 30, tzinfo=BERLIN)):
        order = place_order(cart, email="guest@example.com")

    assert order.number.startswith("20261204-")
    assert len(order.number) == len("20261204-7F3A9C")


def test_checkout_guest_creates_account_timeline(client, mug):
    """Follow a guest who adds a mug, creates an account at checkout and pays."""
    start = datetime.datetime(2026, 12, 4, 14, 1, tzinfo=BERLIN)
    staff = UserFactory(username="staff", is_staff=True)

    with time_machine.travel(start, tick=False) as clock:
        add_to_cart(client, mug)
        cart = open_cart(client)
        clock.move_to(datetime.datetime(2026, 12, 4, 14, 3, tzinfo=BERLIN))
        checkout(
            client,
            email="lena.beispiel@example.org",
            create_account="on",
            password="Winter-Mug-2026",
        )
        clock.move_to(datetime.datetime(2026, 12, 4, 14, 5, 30, tzinfo=BERLIN))
        order = Order.objects.get()
        client.force_login(staff)
        client.post(reverse("shop:order_mark_paid", args=[order.number]))

    order.refresh_from_db()
    cart.refresh_from_db()
    lena = User.objects.get(username="lena.beispiel@example.org")
    assert cart.created_at == start
    assert order.created_at == datetime.datetime(2026, 12, 4, 14, 3, tzinfo=BERLIN)
    assert order.paid_at == datetime.datetime(2026, 12, 4, 14, 5, 30, tzinfo=BERLIN)
    assert order.status == Order.Status.PAID
    assert order.user == lena
    assert order.total == Decimal("19.80")
    assert cart.status == Cart.Status.CONVERTED
    assert cart.order == order
    assert cart.user == lena
    assert Cart.objects.filter(status=Cart.Status.OPEN).count() == 0


def test_checkout_after_login_form_links_order(client, mug):
    user = UserFactory()
    client.post(
        reverse("shop:login"), {"username": user.username, "password": PASSWORD}
    )
    add_to_cart(client, mug)

    checkout(client, email=user.email)

    assert Order.objects.get().user == user


def test_checkout_last_order_save_sees_lines_and_cart(client, mug):
    seen = []

    def record(sender, instance, created, **kwargs):
        cart = Cart.objects.filter(order=instance).first()
        seen.append((created, instance.lines.count(), cart is not None))

    post_save.connect(record, sender=Order, dispatch_uid="test-order-saves")
    try:
        add_to_cart(client, mug, 2)
        add_to_cart(client, ProductFactory(), 1)
        checkout(client, email="guest@example.com")
    finally:
        post_save.disconnect(sender=Order, dispatch_uid="test-order-saves")

    assert seen[0] == (True, 0, False)
    assert seen[-1] == (False, 2, True)
