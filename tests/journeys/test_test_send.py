"""Test sends of a journey's send step to a staff member, from the admin."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from omnichannel.channels.backends import locmem
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.consent.models import ConsentRecord
from omnichannel.journeys.models import StepRun
from omnichannel.offers.models import CustomerOffer
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

GRAPH = {
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "PT1H", "next": "email"},
        "email": {
            "type": "send",
            "channel": "email",
            "template": "welcome",
            "next": "alert",
        },
        "alert": {
            "type": "best_channel",
            "templates": {"sms": "alert-sms", "push": "alert-push"},
        },
    },
}


@pytest.fixture
def journey(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            "sms": {"BACKEND": "omnichannel.channels.backends.locmem.LocmemBackend"}
        },
        # A cap the customer has reached must not stop a test.
        "FREQUENCY_CAPS": {"email": (1, timedelta(days=1))},
    }
    MessageTemplate.objects.create(
        name="Welcome",
        slug="welcome",
        channel="email",
        subject="Welcome {{ first_name }}",
        body="<p>Hello {{ first_name }}, you spent {{ profile.total_spent }}.</p>",
    )
    MessageTemplate.objects.create(
        name="Alert", slug="alert-sms", channel="sms", body="Hi {{ first_name }}"
    )
    push = MessageTemplate.objects.create(
        name="Alert push", slug="alert-push", channel="push", body="Hi"
    )
    journey = make_journey(GRAPH, slug="welcome-flow")
    # Deleted after publishing: a test send of the push variant finds no template.
    push.delete()
    return journey


@pytest.fixture
def customer():
    profile = identify(email="carla.customer@example.com")
    profile.first_name = "Carla"
    profile.save()
    return profile


def url(journey, key):
    return reverse("admin:omnichannel_journey_test_send", args=[journey.pk, key])


def test_test_send_uses_customer_data(admin_client, journey, customer):
    response = admin_client.post(
        url(journey, "email"),
        {
            "customer": "carla.customer@example.com",
            "address": "staff@example.com",
            "channel": "email",
        },
    )

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["staff@example.com"]
    assert message.subject == "[Test] Welcome Carla"
    assert "Hello Carla" in message.body


def test_test_send_leaves_customer_untouched(admin_client, journey, customer):
    before = Event.objects.filter(profile=customer).count()
    Delivery.objects.create(
        profile=customer,
        channel="email",
        template=MessageTemplate.objects.get(slug="welcome"),
        dedupe_key="earlier",
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
    )

    admin_client.post(
        url(journey, "email"),
        {
            "customer": str(customer.pk),
            "address": "staff@example.com",
            "channel": "email",
        },
    )

    assert len(mail.outbox) == 1
    assert Delivery.objects.count() == 1
    assert not ConsentRecord.objects.filter(profile=customer).exists()
    assert not StepRun.objects.exists()
    assert Event.objects.filter(profile=customer).count() == before
    assert not CustomerOffer.objects.exists()


def test_test_send_with_sample_customer(admin_client, journey):
    response = admin_client.post(
        url(journey, "email"), {"address": "staff@example.com", "channel": "email"}
    )

    assert response.status_code == 302
    assert mail.outbox[0].subject == "[Test] Welcome Sample"


def test_test_send_best_channel_sms(admin_client, journey, customer):
    response = admin_client.post(
        url(journey, "alert"),
        {"customer": customer.email, "address": "+447700900999", "channel": "sms"},
    )

    assert response.status_code == 302
    assert len(locmem.outbox) == 1
    sent = locmem.outbox[0]
    assert sent.to == ["+447700900999"]
    assert sent.test is True
    assert sent.delivery_id is None
    assert sent.rendered.text.startswith("Hi Carla")


def test_test_send_is_logged_in_history(admin_client, journey):
    admin_client.post(
        url(journey, "email"), {"address": "staff@example.com", "channel": "email"}
    )

    entry = LogEntry.objects.get(object_id=str(journey.pk))
    assert "test of step email" in entry.get_change_message()


def test_test_send_missing_template(admin_client, journey):
    response = admin_client.post(
        url(journey, "alert"), {"address": "staff@example.com", "channel": "push"}
    )

    assert response.status_code == 400
    assert "alert-push" in response.content.decode()
    assert not locmem.outbox


def test_test_send_unknown_customer(admin_client, journey):
    response = admin_client.post(
        url(journey, "email"),
        {
            "customer": "nobody@example.com",
            "address": "s@example.com",
            "channel": "email",
        },
    )

    assert response.status_code == 400
    assert "No customer with the email address or id nobody@example.com" in (
        response.content.decode()
    )
    assert not mail.outbox


def test_test_send_channel_not_of_step(admin_client, journey):
    response = admin_client.post(
        url(journey, "email"), {"address": "staff@example.com", "channel": "sms"}
    )

    assert response.status_code == 400
    assert not mail.outbox


def test_test_send_of_wait_step_is_not_found(admin_client, journey):
    response = admin_client.get(url(journey, "wait"))

    assert response.status_code == 404


def test_test_send_form_offers_staff_email(admin_client, admin_user, journey):
    response = admin_client.get(url(journey, "email"))

    assert response.status_code == 200
    assert admin_user.email in response.content.decode()


def test_step_editor_links_test_send(admin_client, journey):
    page = admin_client.get(
        reverse("admin:omnichannel_journey_step", args=[journey.pk, "email"])
    )

    assert url(journey, "email") in page.content.decode()


@pytest.mark.parametrize(
    ("channel", "address", "message"),
    [
        ("email", "notanemail", "is not an email address"),
        ("email", "+4915112345678", "is not an email address"),
        ("sms", "call me", "is not a phone number"),
    ],
)
def test_test_send_bad_address_rejected(
    admin_client, journey, channel, address, message
):
    key = "email" if channel == "email" else "alert"
    response = admin_client.post(
        url(journey, key), {"address": address, "channel": channel}
    )

    assert message in response.content.decode()
    assert not locmem.outbox
    assert not mail.outbox


def test_test_send_fills_data_of_customer_run(admin_client, journey, customer):
    from omnichannel.journeys.engine import enroll

    MessageTemplate.objects.filter(slug="welcome").update(
        body="<p>Order {{ data.order }} is ready.</p>"
    )
    enroll(journey, customer, data={"order": "A-17"})

    admin_client.post(
        url(journey, "email"),
        {
            "customer": "carla.customer@example.com",
            "address": "staff@example.com",
            "channel": "email",
        },
    )

    assert "Order A-17 is ready." in mail.outbox[0].body
