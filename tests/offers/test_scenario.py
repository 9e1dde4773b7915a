"""An offer claimed on the app is seen as claimed on the site and in a journey."""

import importlib.util
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

import omnichannel
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.journeys.engine import enroll, run_due
from omnichannel.offers.models import CustomerOffer
from omnichannel.profiles.services import identify
from tests.factories import OfferFactory
from tests.journeys.helpers import make_journey
from tests.offers.helpers import code_of

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
ORDER_AT = T0 + timedelta(hours=5)

VIP_JOURNEY = {
    "start": "vip_mail",
    "steps": {
        "vip_mail": {
            "type": "send",
            "channel": "onsite",
            "template": "vip-early-access",
            "offer": "vip-early-access",
            "next": "wait",
        },
        "wait": {"type": "wait", "duration": "P2D", "next": "used"},
        "used": {
            "type": "branch",
            "condition": {"type": "offer", "step": "vip_mail", "state": "claimed"},
            "yes": "thank",
            "no": "remind",
        },
        "thank": {"type": "update_profile", "add_tags": ["vip-claimed"]},
        "remind": {"type": "update_profile", "add_tags": ["vip-reminder"]},
    },
}


def events_api_url():
    try:
        return reverse("omnichannel:api-events")
    except NoReverseMatch:
        return None


def report_with_events_api(code):
    from rest_framework.test import APIClient

    from omnichannel.authentication import create_api_key

    _key, secret = create_api_key("mobile app", ["events:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.post(
        events_api_url(),
        {
            "event": "order_placed",
            "email": "anna.example@example.com",
            "source": "app",
            "occurred_at": ORDER_AT.isoformat(),
            "object_type": "order",
            "object_id": "APP-7731",
            "revenue": "59.00",
            "currency": "EUR",
            "idempotency_key": "app-order-APP-7731",
            "properties": {"order_id": "APP-7731", "discount_codes": [code]},
        },
        format="json",
    )
    assert response.status_code == 201, response.content


def report_with_track(code):
    omnichannel.track(
        "order_placed",
        email="anna.example@example.com",
        source="app",
        occurred_at=ORDER_AT,
        object_type="order",
        object_id="APP-7731",
        revenue="59.00",
        currency="EUR",
        idempotency_key="app-order-APP-7731",
        properties={"order_id": "APP-7731", "discount_codes": [code]},
    )


@pytest.mark.parametrize("report", ["events_api", "track"])
def test_app_claim_seen_on_site_and_in_branch(client, report):
    if report == "events_api" and (
        events_api_url() is None
        or importlib.util.find_spec("omnichannel.authentication") is None
    ):
        pytest.skip("the events REST API is not installed in this build")
    user = get_user_model().objects.create_user(
        "anna", "anna.example@example.com", "pw"
    )
    anna = identify(user=user, email="anna.example@example.com")
    OfferFactory(slug="vip-early-access", name="VIP early access", code_prefix="VIP")
    MessageTemplate.objects.create(
        name="VIP early access",
        slug="vip-early-access",
        channel="onsite",
        body="Shop the preview with {{ code }}",
    )
    journey = make_journey(VIP_JOURNEY, slug="vip-welcome")
    enroll(journey, anna, at=T0)
    run_due(T0)
    customer_offer = CustomerOffer.objects.get(profile=anna)
    delivery = Delivery.objects.get(step_key="vip_mail")
    assert delivery.context["code"] == code_of(customer_offer)
    assert customer_offer.source == "journey:vip-welcome:vip_mail"
    client.force_login(user)
    before = client.get("/vip/").content.decode()
    assert code_of(customer_offer) in before

    if report == "events_api":
        report_with_events_api(code_of(customer_offer).lower())
    else:
        report_with_track(code_of(customer_offer).lower())

    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.CLAIMED
    assert customer_offer.claim_channel == "app"
    assert customer_offer.order_id == "APP-7731"
    page = client.get("/vip/").content.decode()
    assert "You have already used this code" in page
    assert code_of(customer_offer) not in page
    run_due(T0 + timedelta(days=2))
    anna.refresh_from_db()
    assert anna.tags == ["vip-claimed"]
