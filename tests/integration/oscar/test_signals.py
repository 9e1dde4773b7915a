"""Sign-ups and product views announced by Oscar's signals."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from omnichannel.profiles.models import Event, Identity

pytestmark = pytest.mark.django_db

LENA = "lena.beispiel@example.org"


def register(client):
    return client.post(
        reverse("customer:register"),
        {
            "email": LENA,
            "password1": "a-long-test-password",
            "password2": "a-long-test-password",
        },
    )


def test_registration_records_signed_up(browser):
    browser.get(reverse("customer:register"))
    visitor = browser.cookies["omni_vid"].value

    response = register(browser)

    assert response.status_code == 302
    signed_up = Event.objects.get(name="signed_up")
    profile = signed_up.profile
    assert signed_up.source == "oscar"
    assert profile.email == LENA
    assert profile.user.email == LENA
    assert Identity.objects.get(kind="visitor", value=visitor).profile == profile


def test_product_view_recorded(browser, mug):
    response = browser.get(mug.get_absolute_url())

    assert response.status_code == 200
    viewed = Event.objects.get(name="product_viewed")
    assert viewed.object_type == "product"
    assert viewed.object_id == str(mug.pk)
    assert viewed.properties["title"] == "Enamel mug"
    assert viewed.properties["upc"] == "MUG-042"
    assert viewed.properties["category"] == "Mugs"
    assert viewed.properties["price"] == "14.90"
    assert viewed.properties["currency"] == "EUR"
    assert viewed.properties["url"] == mug.get_absolute_url()


def test_product_view_of_signed_in_customer(browser, customer, mug):
    browser.force_login(customer)

    browser.get(mug.get_absolute_url())

    assert Event.objects.get(name="product_viewed").profile.user == customer


def test_product_view_by_bot_not_recorded(mug):
    crawler = Client(
        headers={"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}
    )

    crawler.get(mug.get_absolute_url())

    assert not Event.objects.filter(name="product_viewed").exists()


def test_product_view_without_middleware_not_recorded(browser, mug):
    from django.conf import settings

    middleware = [
        name
        for name in settings.MIDDLEWARE
        if name != "omnichannel.middleware.OmnichannelMiddleware"
    ]
    with override_settings(MIDDLEWARE=middleware):
        response = browser.get(mug.get_absolute_url())

    assert response.status_code == 200
    assert not Event.objects.exists()
