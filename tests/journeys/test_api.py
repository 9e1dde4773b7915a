"""Enrolling customers through the REST API and omnichannel.api.enroll."""

import pytest
from django.test import Client
from django.urls import reverse

from omnichannel import api
from omnichannel.channels.backends import locmem
from omnichannel.channels.models import MessageTemplate
from omnichannel.exceptions import (
    EnrollmentRefused,
    JourneyNotFound,
    ProfileNotFound,
)
from omnichannel.journeys.engine import run_due
from omnichannel.journeys.models import Enrollment, Journey
from omnichannel.journeys.services import set_status
from omnichannel.profiles.services import identify
from tests.factories import api_key
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

SEND_AT_ONCE = {
    "start": "sms",
    "steps": {"sms": {"type": "send", "channel": "sms", "template": "api-sms"}},
}


@pytest.fixture
def journey(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            "sms": {"BACKEND": "omnichannel.channels.backends.locmem.LocmemBackend"}
        },
    }
    MessageTemplate.objects.create(
        name="API SMS",
        slug="api-sms",
        channel="sms",
        purpose="transactional",
        body="Order {{ data.order }} is ready",
    )
    return make_journey(SEND_AT_ONCE, slug="ready-for-pickup")


@pytest.fixture
def customer():
    return identify(email="ada.api@example.com", phone="+447700900123")


@pytest.fixture
def client():
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_key('journeys:enroll')}")


def post(client, slug, payload):
    url = reverse("omnichannel:api-journey-enroll", args=[slug])
    return client.post(url, payload, content_type="application/json")


def test_enroll_by_email_starts_run(client, journey, customer):
    response = post(
        client,
        journey.slug,
        {"email": "Ada.API@example.com", "data": {"order": "A-17"}},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["journey"] == "ready-for-pickup"
    assert body["profile"] == str(customer.uuid)
    assert body["status"] == "active"
    assert body["data"] == {"order": "A-17"}
    enrollment = Enrollment.objects.get(pk=body["id"])
    assert enrollment.context["trigger"] == {"type": "api"}


def test_enroll_data_reaches_message(
    client, journey, customer, django_capture_on_commit_callbacks
):
    post(
        client, journey.slug, {"profile": str(customer.uuid), "data": {"order": "B-2"}}
    )

    with django_capture_on_commit_callbacks(execute=True):
        run_due()

    assert len(locmem.outbox) == 1
    assert locmem.outbox[0].rendered.text == "Order B-2 is ready"


def test_enroll_idempotency_key_returns_same_run(client, journey, customer):
    payload = {"phone": "+447700900123", "idempotency_key": "pickup-A-17"}
    first = post(client, journey.slug, payload)
    second = post(client, journey.slug, payload)

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert Enrollment.objects.count() == 1


def test_enroll_idempotency_key_of_other_customer(client, journey, customer):
    other = identify(email="bob.api@example.com")
    post(client, journey.slug, {"email": customer.email, "idempotency_key": "k-1"})

    response = post(
        client, journey.slug, {"email": other.email, "idempotency_key": "k-1"}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"


def test_enroll_unknown_journey(client, customer):
    response = post(client, "no-such-journey", {"email": customer.email})

    assert response.status_code == 404
    assert response.json()["code"] == "journey_not_found"


def test_enroll_paused_journey(client, journey, customer):
    set_status(journey, Journey.Status.PAUSED)

    response = post(client, journey.slug, {"email": customer.email})

    assert response.status_code == 409
    assert response.json()["code"] == "journey_paused"
    assert "resume" in response.json()["detail"]
    assert not Enrollment.objects.exists()


def test_enroll_draft_journey(client, customer):
    Journey.objects.create(name="Draft", slug="draft", trigger_type="manual")

    response = post(client, "draft", {"email": customer.email})

    assert response.status_code == 409
    assert response.json()["code"] == "journey_not_active"


def test_enroll_event_triggered_journey(client, customer):
    MessageTemplate.objects.create(name="API SMS", slug="api-sms", channel="sms")
    make_journey(
        SEND_AT_ONCE,
        slug="on-view",
        trigger_type="event",
        trigger_config={"event": "product_viewed"},
    )

    response = post(client, "on-view", {"email": customer.email})

    assert response.status_code == 409
    assert response.json()["code"] == "trigger_not_manual"


def test_enroll_reentry_refused(client, journey, customer):
    post(client, journey.slug, {"email": customer.email})
    run_due()

    response = post(client, journey.slug, {"email": customer.email})

    assert response.status_code == 409
    assert response.json()["code"] == "reentry_refused"
    assert Enrollment.objects.count() == 1


def test_enroll_already_in_progress(client, customer):
    make_journey(
        {"start": "wait", "steps": {"wait": {"type": "wait", "duration": "P1D"}}},
        slug="slow",
        reentry_policy="always",
    )
    post(client, "slow", {"email": customer.email})

    response = post(client, "slow", {"email": customer.email})

    assert response.status_code == 409
    assert response.json()["code"] == "already_enrolled"


def test_enroll_unknown_profile(client, journey):
    response = post(client, journey.slug, {"email": "nobody@example.com"})

    assert response.status_code == 404
    assert response.json()["code"] == "profile_not_found"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "profile"),
        ({"profile": "not-a-uuid"}, "profile"),
        ({"email": "a@example.com", "phone": "+447700900123"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"email": "a@example.com", "data": ["not", "an", "object"]}, "data"),
        ({"email": "ada.api@example.com", "data": {"big": "x" * 40_000}}, "data"),
    ],
)
def test_enroll_bad_input(client, journey, customer, payload, field):
    response = post(client, journey.slug, payload)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Enrollment.objects.exists()


def test_enroll_erased_profile(client, journey, customer):
    customer.erased_at = customer.created_at
    customer.save(update_fields=["erased_at"])

    response = post(client, journey.slug, {"profile": str(customer.uuid)})

    assert response.status_code == 410


def test_enroll_needs_scope(journey, customer):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key('events:write')}")

    response = post(client, journey.slug, {"email": customer.email})

    assert response.status_code == 403
    assert "journeys:enroll" in response.json()["detail"]


def test_python_enroll_by_slug(journey, customer):
    enrollment, created = api.enroll("ready-for-pickup", profile=customer)

    assert created
    assert enrollment.context["trigger"] == {"type": "code"}


def test_python_enroll_errors(journey, customer):
    with pytest.raises(JourneyNotFound):
        api.enroll("missing", profile=customer)
    with pytest.raises(ProfileNotFound):
        api.enroll(journey, email="nobody@example.com")
    with pytest.raises(TypeError):
        api.enroll(journey)
    set_status(journey, Journey.Status.PAUSED)
    with pytest.raises(EnrollmentRefused) as refused:
        api.enroll(journey, profile=customer)
    assert refused.value.reason == "journey_paused"


def test_enroll_unknown_field_rejected(client, journey, customer):
    response = post(client, journey.slug, {"email": customer.email, "dta": {"a": 1}})

    assert response.status_code == 400
    body = response.json()
    assert "Unknown field" in body["errors"]["dta"][0]
    assert "data" in body["errors"]["dta"][0]
    assert Enrollment.objects.count() == 0
