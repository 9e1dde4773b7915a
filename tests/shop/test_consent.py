"""The newsletter box at checkout and sign-up records consent with its wording."""

from decimal import Decimal

import pytest
from django.urls import reverse

from shop.consent import EMAIL_OPT_IN_VERSION
from tests.shop.factories import ProductFactory
from tests.shop.helpers import add_to_cart, checkout

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not __import__("tests.settings").settings.HAS_SHOP,
        reason="the example shop is not installed",
    ),
]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def mug():
    return ProductFactory(sku="MUG-042", name="Mug", price=Decimal("14.90"), stock=9)


def _email_consent(email):
    from omnichannel.consent.models import ConsentRecord

    return ConsentRecord.objects.filter(profile__email=email, channel="email")


def test_checkout_box_records_consent(client, mug):
    add_to_cart(client, mug, 1)

    checkout(client, email="lea@example.com", marketing_email="on")

    record = _email_consent("lea@example.com").get()
    assert record.granted is True
    assert record.source == "checkout"
    assert record.wording_version == EMAIL_OPT_IN_VERSION
    assert "unsubscribe" in record.proof["wording"]


def test_checkout_without_box_records_nothing(client, mug):
    add_to_cart(client, mug, 1)

    checkout(client, email="lea@example.com")

    assert not _email_consent("lea@example.com").exists()


def test_signup_box_records_consent(client):
    client.post(
        reverse("shop:signup"),
        {
            "email": "tom@example.com",
            "password1": "a long pass phrase 42",
            "password2": "a long pass phrase 42",
            "marketing_email": "on",
        },
    )

    record = _email_consent("tom@example.com").get()
    assert record.source == "signup"
    assert record.granted is True
