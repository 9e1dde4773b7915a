import datetime
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from shop.models import Discount, Order, OrderStatusError
from shop.services import compute_totals
from tests.shop.factories import (
    DiscountFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)
from tests.shop.helpers import add_to_cart, checkout, message_texts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    ("subtotal", "shipping", "total"),
    [
        ("14.90", "4.90", "19.80"),
        ("49.99", "4.90", "54.89"),
        ("50.00", "0.00", "50.00"),
        ("289.00", "0.00", "289.00"),
    ],
)
def test_totals_shipping_threshold(subtotal, shipping, total):
    totals = compute_totals(Decimal(subtotal))

    assert totals.subtotal == Decimal(subtotal)
    assert totals.discount_amount == Decimal("0.00")
    assert totals.shipping == Decimal(shipping)
    assert totals.total == Decimal(total)


def test_totals_threshold_uses_goods_before_discount():
    discount = Discount(kind=Discount.Kind.PERCENT, value=Decimal("10"))

    totals = compute_totals(Decimal("50.00"), discount)

    assert totals.discount_amount == Decimal("5.00")
    assert totals.shipping == Decimal("0.00")
    assert totals.total == Decimal("45.00")


def test_totals_percent_rounds_half_up():
    discount = Discount(kind=Discount.Kind.PERCENT, value=Decimal("15"))

    totals = compute_totals(Decimal("14.90"), discount)

    assert totals.discount_amount == Decimal("2.24")
    assert totals.total == Decimal("17.56")


def test_totals_follow_settings(settings):
    settings.SHOP_SHIPPING_FEE = Decimal("3.50")
    settings.SHOP_FREE_SHIPPING_THRESHOLD = Decimal("20.00")

    assert compute_totals(Decimal("19.99")).shipping == Decimal("3.50")
    assert compute_totals(Decimal("20.00")).shipping == Decimal("0.00")


def test_order_totals_from_several_lines(client):
    mug = ProductFactory(price=Decimal("14.90"), stock=10)
    socks = ProductFactory(price=Decimal("19.90"), stock=10)
    add_to_cart(client, mug, 2)
    add_to_cart(client, socks, 1)

    checkout(client, email="guest@example.com")

    order = Order.objects.get()
    assert order.subtotal == Decimal("49.70")
    assert order.shipping == Decimal("4.90")
    assert order.total == Decimal("54.60")
    assert sum(line.subtotal for line in order.lines.all()) == order.subtotal


def test_order_totals_with_discount_and_free_shipping(client):
    parka = ProductFactory(price=Decimal("289.00"), stock=10)
    mug = ProductFactory(price=Decimal("14.90"), stock=10)
    DiscountFactory(code="BDAY15", kind=Discount.Kind.PERCENT, value=15)
    add_to_cart(client, parka)
    add_to_cart(client, mug, 2)

    checkout(client, email="guest@example.com", discount_code="BDAY15")

    order = Order.objects.get()
    assert order.subtotal == Decimal("318.80")
    assert order.discount_amount == Decimal("47.82")
    assert order.shipping == Decimal("0.00")
    assert order.total == Decimal("270.98")


def test_order_mark_paid_sets_paid_at():
    order = OrderFactory()
    paid_at = datetime.datetime(2026, 12, 4, 13, 5, 30, tzinfo=datetime.UTC)

    assert order.mark_paid(at=paid_at) is True

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.paid_at == paid_at


def test_order_mark_paid_twice_unchanged():
    order = OrderFactory()
    order.mark_paid()
    first_paid_at = order.paid_at

    assert order.mark_paid() is False

    order.refresh_from_db()
    assert order.paid_at == first_paid_at


@pytest.mark.parametrize("status", [Order.Status.CANCELLED, Order.Status.REFUNDED])
def test_order_mark_paid_rejects_closed_order(status):
    order = OrderFactory(status=status)

    with pytest.raises(OrderStatusError, match="Only pending orders can be marked"):
        order.mark_paid()

    order.refresh_from_db()
    assert order.paid_at is None


def test_order_created_at_can_be_set():
    created_at = datetime.datetime(2026, 12, 4, 13, 3, tzinfo=datetime.UTC)

    order = OrderFactory(created_at=created_at)

    order.refresh_from_db()
    assert order.created_at == created_at


def test_order_line_keeps_copy_after_product_deleted():
    line = OrderLineFactory(product=ProductFactory(sku="MUG-042", name="Mug"))

    line.product.delete()

    line.refresh_from_db()
    assert line.product is None
    assert (line.sku, line.name) == ("MUG-042", "Mug")


def test_mark_paid_view_staff(staff_client):
    order = OrderFactory()

    response = staff_client.post(reverse("shop:order_mark_paid", args=[order.number]))

    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.paid_at is not None


def test_mark_paid_view_closed_order_shows_error(staff_client):
    order = OrderFactory(status=Order.Status.CANCELLED)

    response = staff_client.post(
        reverse("shop:order_mark_paid", args=[order.number]), follow=True
    )

    assert message_texts(response) == [
        f"Order {order.number} is cancelled. Only pending orders can be marked paid."
    ]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_mark_paid_view_customer_forbidden(client):
    customer = UserFactory()
    order = OrderFactory(user=customer)
    client.force_login(customer)

    response = client.post(reverse("shop:order_mark_paid", args=[order.number]))

    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_mark_paid_view_anonymous_redirected_to_login(client):
    order = OrderFactory()

    response = client.post(reverse("shop:order_mark_paid", args=[order.number]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("shop:login"))
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_mark_paid_view_get_not_allowed(staff_client):
    order = OrderFactory()

    response = staff_client.get(reverse("shop:order_mark_paid", args=[order.number]))

    assert response.status_code == 405


def test_admin_action_marks_orders_paid(staff_client):
    pending = OrderFactory()
    cancelled = OrderFactory(status=Order.Status.CANCELLED)

    response = staff_client.post(
        reverse("admin:shop_order_changelist"),
        {
            "action": "mark_paid",
            ACTION_CHECKBOX_NAME: [pending.pk, cancelled.pk],
        },
        follow=True,
    )

    assert response.status_code == 200
    pending.refresh_from_db()
    cancelled.refresh_from_db()
    assert pending.status == Order.Status.PAID
    assert cancelled.status == Order.Status.CANCELLED
    assert "Marked 1 order as paid." in message_texts(response)


def test_order_page_owner_and_staff_only(client, staff_client):
    owner = UserFactory()
    order = OrderFactory(user=owner)
    url = order.get_absolute_url()

    assert staff_client.get(url).status_code == 200
    staff_client.logout()
    assert client.get(url).status_code == 403
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    client.force_login(owner)
    assert client.get(url).status_code == 200


def test_order_page_unknown_number_not_found(client):
    response = client.get(reverse("shop:order_detail", args=["20261204-NOPE"]))

    assert response.status_code == 404


def test_account_lists_own_orders_only(client):
    customer = UserFactory()
    own = OrderFactory(user=customer, created_at=timezone.now())
    other = OrderFactory(user=UserFactory())
    client.force_login(customer)

    response = client.get(reverse("shop:account"))

    assert list(response.context["orders"]) == [own]
    assert other.number not in response.content.decode()


def test_account_requires_login(client):
    response = client.get(reverse("shop:account"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("shop:login"))
