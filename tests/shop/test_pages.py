import io
import logging
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.management import call_command
from django.urls import reverse

import shop
from shop import tracking
from shop.models import Product
from shop.templatetags.shop import format_money
from tests.shop.factories import PASSWORD, CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
TEMPLATE_DIR = Path(shop.__file__).parent / "templates"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def catalog():
    call_command("seed_shop", "--no-staff", stdout=io.StringIO())


def test_every_template_extends_base():
    pages = [
        path
        for path in TEMPLATE_DIR.rglob("*.html")
        if path.name != "base.html" and not path.name.startswith("_")
    ]

    assert len(pages) >= 11
    for path in pages:
        first_line = path.read_text().splitlines()[0]
        assert first_line == '{% extends "shop/base.html" %}', path.name


def test_base_template_has_blocks():
    base = (TEMPLATE_DIR / "shop" / "base.html").read_text()

    for block in ["hero", "nav_extra", "content", "extra_head", "extra_body"]:
        assert f"{{% block {block} %}}" in base, block
    assert re.search(r"<nav[^>]*>.*{% block nav_extra %}.*</nav>", base, re.DOTALL)


def test_templates_load_nothing_from_internet():
    for path in TEMPLATE_DIR.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert "@import" not in text, path.name
    css = (Path(shop.__file__).parent / "static" / "shop" / "shop.css").read_text()
    assert "url(" not in css
    assert "@import" not in css


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/categories/",
        "/categories/winter-jackets/",
        "/categories/parkas/",
        "/products/mug-042-stoneware-mug-midnight-blue/",
        "/vip/",
        "/cart/",
        "/account/login/",
        "/account/signup/",
    ],
)
def test_page_renders(client, catalog, url):
    response = client.get(url)

    assert response.status_code == 200
    assert "shop/base.html" in [template.name for template in response.templates]


def test_home_shows_featured_products(client, catalog):
    response = client.get(reverse("shop:home"))

    featured = list(response.context["featured_products"])
    assert featured
    assert all(product.is_featured for product in featured)
    assert 'class="hero"' in response.content.decode()


def test_category_detail_includes_subcategories(client, catalog):
    response = client.get(reverse("shop:category_detail", args=["winter-jackets"]))

    assert [child.slug for child in response.context["subcategories"]] == [
        "parkas",
        "puffer-jackets",
    ]
    skus = {product.sku for product in response.context["products"]}
    assert {"PAR-101", "PUF-201", "WJK-301"} <= skus
    assert "MUG-042" not in skus


def test_category_detail_breadcrumbs(client, catalog):
    response = client.get(reverse("shop:category_detail", args=["parkas"]))

    assert 'href="/categories/winter-jackets/">Winter Jackets</a>' in (
        response.content.decode()
    )


def test_category_descendants_of_deep_tree():
    root = CategoryFactory(name="Root")
    child = CategoryFactory(name="Child", parent=root)
    grandchild = CategoryFactory(name="Grandchild", parent=child)

    assert root.descendant_ids() == {root.pk, child.pk, grandchild.pk}
    assert grandchild.ancestors() == [root, child]


def test_category_detail_hides_inactive_products(client):
    category = CategoryFactory(name="Mugs")
    ProductFactory(category=category, name="Active Mug")
    ProductFactory(category=category, name="Retired Mug", is_active=False)

    response = client.get(category.get_absolute_url())

    assert [product.name for product in response.context["products"]] == ["Active Mug"]


def test_product_detail_inactive_not_found(client):
    retired = ProductFactory(is_active=False)

    response = client.get(retired.get_absolute_url())

    assert response.status_code == 404


def test_product_detail_sold_out_has_no_add_button(client):
    parka = ProductFactory(stock=0)

    response = client.get(parka.get_absolute_url())

    body = response.content.decode()
    assert "Sold out" in body
    assert reverse("shop:cart_add", args=[parka.pk]) not in body


def test_vip_lists_most_expensive_products(client, catalog):
    response = client.get(reverse("shop:vip"))

    prices = [product.price for product in response.context["products"]]
    assert len(prices) == 8
    assert prices == sorted(prices, reverse=True)
    assert prices[0] == Product.objects.order_by("-price").first().price


def test_signup_creates_user_and_logs_in(client):
    response = client.post(
        reverse("shop:signup"),
        {
            "email": "Anna.Example@Example.COM ",
            "password1": "Winter-Mug-2026",
            "password2": "Winter-Mug-2026",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("shop:account")
    user = User.objects.get()
    assert user.username == "anna.example@example.com"
    assert user.email == "Anna.Example@example.com"
    assert client.session[SESSION_KEY] == str(user.pk)


def test_signup_existing_email_rejected(client):
    UserFactory(email="anna.example@example.com")

    response = client.post(
        reverse("shop:signup"),
        {
            "email": "ANNA.EXAMPLE@example.com",
            "password1": "Winter-Mug-2026",
            "password2": "Winter-Mug-2026",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "An account with this email already exists. Log in instead."
    ]
    assert User.objects.count() == 1


def test_signup_password_mismatch_rejected(client):
    response = client.post(
        reverse("shop:signup"),
        {
            "email": "new@example.com",
            "password1": "Winter-Mug-2026",
            "password2": "Winter-Mug-2027",
        },
    )

    assert "password2" in response.context["form"].errors
    assert not User.objects.exists()


def test_signup_redirects_to_safe_next_only(client):
    data = {
        "email": "new@example.com",
        "password1": "Winter-Mug-2026",
        "password2": "Winter-Mug-2026",
        "next": "https://elsewhere.example/",
    }

    response = client.post(reverse("shop:signup"), data)

    assert response.url == reverse("shop:account")


def test_login_email_any_letter_case(client):
    user = UserFactory(email="anna.example@example.com")

    response = client.post(
        reverse("shop:login"),
        {"username": " ANNA.Example@example.com", "password": PASSWORD},
    )

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(user.pk)


def test_login_wrong_password_rejected(client):
    UserFactory(email="anna.example@example.com")

    response = client.post(
        reverse("shop:login"),
        {"username": "anna.example@example.com", "password": "wrong"},
    )

    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_logout_requires_post(client):
    client.force_login(UserFactory())

    assert client.get(reverse("shop:logout")).status_code == 405
    response = client.post(reverse("shop:logout"))

    assert response.status_code == 302
    assert SESSION_KEY not in client.session


def test_nav_shows_account_links(client):
    CategoryFactory(name="Mugs")
    anonymous = client.get(reverse("shop:home")).content.decode()
    client.force_login(UserFactory(is_staff=True))
    staff = client.get(reverse("shop:home")).content.decode()

    assert 'href="/account/login/"' in anonymous
    assert 'href="/categories/mugs/">Mugs</a>' in anonymous
    assert 'href="/admin/"' not in anonymous
    assert 'href="/admin/"' in staff
    assert 'action="/account/logout/"' in staff


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("14.9"), "EUR", "€14.90"),
        (Decimal("1234.5"), "GBP", "£1,234.50"),
        ("12.50", "CHF", "12.50 CHF"),
    ],
)
def test_format_money(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_product_view_tracked(client, monkeypatch):
    product = ProductFactory(sku="MUG-042")
    calls = []

    def record(event, *, request, properties, **fields):
        calls.append((event, properties, fields))

    monkeypatch.setattr(tracking, "_public_track", lambda: record)

    client.get(product.get_absolute_url())

    assert len(calls) == 1
    event, properties, fields = calls[0]
    assert event == "product_viewed"
    assert properties["sku"] == "MUG-042"
    assert fields == {
        "source": "shop",
        "object_type": "product",
        "object_id": "MUG-042",
    }
    assert properties["url"].endswith(product.get_absolute_url())


def test_product_view_tracking_failure_logged(client, monkeypatch, caplog):
    product = ProductFactory()

    def broken(event, **fields):
        raise RuntimeError("tracking backend down")

    monkeypatch.setattr(tracking, "_public_track", lambda: broken)

    with caplog.at_level(logging.ERROR, logger="shop.tracking"):
        response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    assert "Tracking the shop event product_viewed failed" in caplog.text
