"""The abandoned-cart cascade driven through the example shop's own views."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from omnichannel.channels.models import Delivery
from omnichannel.consent.services import record_consent
from omnichannel.journeys.engine import run_due
from omnichannel.journeys.models import Enrollment, StepRun
from omnichannel.journeys.recipes import install_recipes
from omnichannel.profiles.models import Profile
from shop.models import Cart
from tests.shop.factories import ProductFactory
from tests.shop.helpers import add_to_cart, checkout

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def mug(channels_settings):
    install_recipes(only=["abandoned-cart"])
    return ProductFactory(
        sku="MUG-042", name="Stoneware Mug", price=Decimal("14.90"), stock=100
    )


def at(hour, minute, second=0, day=4):
    return datetime(2026, 12, day, hour, minute, second, tzinfo=BERLIN)


def run_at(moment, capture):
    with time_machine.travel(moment, tick=False), capture(execute=True):
        run_due(moment)


def sweep(capture, start):
    """Run the engine through every step time of the cascade and past it."""
    for hours in (1, 1.2, 24, 25, 72, 73, 100):
        run_at(start + timedelta(hours=hours), capture)


def test_guest_who_creates_account_gets_no_reminder(
    client, mug, django_capture_on_commit_callbacks
):
    with time_machine.travel(at(14, 1), tick=False):
        client.get("/", **BROWSER)
        add_to_cart(client, mug)
    with time_machine.travel(at(14, 3), tick=False):
        checkout(
            client,
            email="lena.beispiel@example.org",
            create_account="on",
            password="Winter-Mug-2026",
        )
    sweep(django_capture_on_commit_callbacks, at(14, 1))

    profiles = Profile.objects.filter(merged_into__isnull=True)
    assert profiles.count() == 1
    lena = profiles.get()
    assert lena.email == "lena.beispiel@example.org"
    assert lena.events.filter(name="page_viewed").exists()
    assert lena.events.filter(name="cart_updated").exists()
    cart = Cart.objects.get()
    assert cart.status == Cart.Status.CONVERTED
    assert cart.order is not None
    assert Delivery.objects.count() == 0
    assert mail.outbox == []
    run = Enrollment.objects.get()
    assert run.profile_id == lena.pk
    assert run.status == Enrollment.Status.CONVERTED
    assert not StepRun.objects.filter(step_type="branch").exists()


def test_cart_left_alone_gets_email_at_one_hour(
    client, mug, django_capture_on_commit_callbacks
):
    with time_machine.travel(at(14, 1), tick=False):
        add_to_cart(client, mug)
    profile = Profile.objects.get()
    with time_machine.travel(at(14, 2), tick=False):
        # The visitor gives an email address at checkout and leaves.
        from omnichannel.profiles.services import identify

        identify(
            visitor_id=client.cookies["omni_vid"].value,
            email="lena.beispiel@example.org",
        )
        record_consent(profile, "email", True, source="checkout")

    run_at(at(15, 0), django_capture_on_commit_callbacks)
    assert mail.outbox == []
    run_at(at(15, 1), django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert "Stoneware Mug" in mail.outbox[0].alternatives[0][0]

    with time_machine.travel(at(15, 30), tick=False):
        checkout(client, email="lena.beispiel@example.org")
    sweep(django_capture_on_commit_callbacks, at(14, 1))
    assert len(mail.outbox) == 1
    assert Enrollment.objects.get().status == Enrollment.Status.CONVERTED
