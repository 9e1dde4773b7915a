import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from shop.models import Category, Discount, Product

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    output = io.StringIO()
    call_command("seed_shop", *args, stdout=output)
    return output.getvalue()


def test_seed_creates_catalog():
    output = seed("--no-staff")

    assert "6 new categories, 20 new products, 2 new discount codes" in output
    assert Product.objects.count() == 20
    mug = Product.objects.get(sku="MUG-042")
    assert mug.price == Decimal("14.90")
    assert mug.currency == "EUR"
    assert mug.category.name == "Mugs"
    assert mug.stock > 0
    parkas = Category.objects.get(slug="parkas")
    assert parkas.parent.name == "Winter Jackets"
    assert parkas.products.count() == 4
    assert Product.objects.filter(is_featured=True).exists()
    assert Discount.objects.filter(code="WELCOME10", single_use=False).exists()


def test_seed_twice_changes_nothing():
    seed("--no-staff")
    mug = Product.objects.get(sku="MUG-042")
    mug.stock = 3
    mug.save()

    output = seed("--no-staff")

    assert "0 new categories, 0 new products, 0 new discount codes" in output
    assert Product.objects.count() == 20
    assert Category.objects.count() == 6
    mug.refresh_from_db()
    assert mug.stock == 3


def test_seed_staff_user_with_password():
    output = seed("--staff-username", "shopkeeper", "--staff-password", "Open-Sesame-9")

    user = User.objects.get(username="shopkeeper")
    assert user.is_staff
    assert user.is_superuser
    assert user.check_password("Open-Sesame-9")
    assert "Staff login: username shopkeeper, password Open-Sesame-9" in output


def test_seed_staff_user_random_password_printed():
    output = seed()

    user = User.objects.get(username="staff")
    password = output.split("password ")[1].split(" ")[0]
    assert len(password) >= 12
    assert user.check_password(password)


def test_seed_staff_user_existing_password_kept():
    seed("--staff-password", "Open-Sesame-9")

    output = seed()

    assert "password (unchanged)" in output
    assert User.objects.get(username="staff").check_password("Open-Sesame-9")


def test_seed_staff_from_environment(monkeypatch):
    monkeypatch.setenv("SHOP_STAFF_USERNAME", "envstaff")
    monkeypatch.setenv("SHOP_STAFF_PASSWORD", "From-Env-Pass-1")

    seed()

    assert User.objects.get(username="envstaff").check_password("From-Env-Pass-1")


def test_seed_empty_staff_username_rejected():
    with pytest.raises(CommandError, match="--staff-username is empty"):
        seed("--staff-username", " ")

    assert not User.objects.exists()
