from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from omnichannel.offers.models import CustomerOffer
from omnichannel.offers.services import issue_code
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify
from tests.factories import OfferFactory
from tests.offers.helpers import code_of, order_event

pytestmark = pytest.mark.django_db

User = get_user_model()
CHECK_URL = "/omnichannel/api/offers/codes/check/"


@pytest.fixture
def customer(client):
    """A logged-in shop customer with a profile and a VIP code."""
    user = User.objects.create_user("anna", "anna.example@example.com", "pw")
    profile = identify(user=user, email="anna.example@example.com")
    client.force_login(user)
    return profile


@pytest.fixture
def vip(customer, offer):
    return issue_code(offer, customer)


def test_api_urls_under_api_prefix():
    assert reverse("omnichannel:api-offers") == "/omnichannel/api/offers/"
    assert reverse("omnichannel:api-offer-check") == CHECK_URL
    assert (
        reverse("omnichannel:api-offer", args=["vip-early-access"])
        == "/omnichannel/api/offers/vip-early-access/"
    )


def test_api_lists_my_offers(client, vip):
    response = client.get("/omnichannel/api/offers/")

    assert response.status_code == 200
    offers = response.json()["offers"]
    assert [offer["slug"] for offer in offers] == ["vip-early-access"]
    assert offers[0]["code"] == code_of(vip)
    assert offers[0]["state"] == "issued"
    assert offers[0]["value"] == "10.00"


def test_api_list_open_only_hides_claimed(client, customer, vip):
    order_event(customer, code_of(vip))

    assert client.get("/omnichannel/api/offers/?open=1").json() == {"offers": []}
    assert client.get("/omnichannel/api/offers/").json()["offers"][0]["state"] == (
        "claimed"
    )


def test_api_anonymous_visitor_without_profile_has_no_offers(client):
    response = client.get("/omnichannel/api/offers/")

    assert response.status_code == 200
    assert response.json() == {"offers": []}


def test_api_anonymous_visitor_by_cookie(client, offer):
    client.get("/omnichannel/api/offers/")
    visitor_id = client.cookies["omni_vid"].value
    profile = identify(visitor_id=visitor_id)
    customer_offer = issue_code(offer, profile)

    response = client.get("/omnichannel/api/offers/vip-early-access/")

    assert response.status_code == 200
    assert response.json()["code"] == code_of(customer_offer)


def test_api_offer_not_issued_404(client, customer):
    response = client.get("/omnichannel/api/offers/vip-early-access/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_issued"


def test_api_seen_marks_offer_seen(client, vip):
    response = client.post(
        "/omnichannel/api/offers/vip-early-access/seen/",
        {"channel": "app"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["state"] == "seen"
    vip.refresh_from_db()
    assert vip.state == CustomerOffer.State.SEEN
    assert Event.objects.get(name="offer_seen").properties["channel"] == "app"


def test_api_check_valid_code(client, vip):
    response = client.post(
        CHECK_URL, {"code": code_of(vip).lower()}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["valid"] is True
    assert response.json()["offer"]["slug"] == "vip-early-access"


@pytest.mark.parametrize(
    ("setup", "status", "reason"),
    [
        ("unknown", 404, "unknown"),
        ("someone_else", 403, "not_yours"),
        ("claimed", 409, "claimed"),
        ("expired", 410, "expired"),
        ("withdrawn", 410, "withdrawn"),
    ],
)
def test_api_check_rejections(client, customer, offer, setup, status, reason):
    other = identify(email="ben.sample@example.org")
    code = code_of(issue_code(offer, customer))
    if setup == "unknown":
        code = "VIP-NOSUCHCODE"
    elif setup == "someone_else":
        code = code_of(issue_code(OfferFactory(slug="other"), other))
    elif setup == "claimed":
        order_event(customer, code)
    elif setup == "expired":
        CustomerOffer.objects.update(valid_until=offer.created_at - timedelta(days=1))
    elif setup == "withdrawn":
        offer.is_active = False
        offer.save()
    states = list(CustomerOffer.objects.values_list("pk", "state"))

    response = client.post(CHECK_URL, {"code": code}, content_type="application/json")

    assert response.status_code == status
    assert response.json()["code"] == reason
    assert response.json()["detail"]
    assert list(CustomerOffer.objects.values_list("pk", "state")) == states


def test_api_check_anonymous_needs_sign_in(client, anna, offer):
    code = code_of(issue_code(offer, anna))

    response = client.post(CHECK_URL, {"code": code}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "sign_in_required"


def test_api_check_missing_code_400(client, customer):
    response = client.post(CHECK_URL, {}, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "code" in response.json()["errors"]


@override_settings(
    OMNICHANNEL={
        "OFFER_CODE_CHECKS_PER_IP": 100,
        "OFFER_CODE_CHECKS_PER_PROFILE": 3,
        "SHOP_ADAPTERS": {"shop.Order": "shop.omnichannel_adapters.OrderAdapter"},
    }
)
def test_api_check_guessing_limited_per_profile(client, vip):
    for attempt in range(3):
        guess = client.post(
            CHECK_URL, {"code": f"VIP-GUESS{attempt}"}, content_type="application/json"
        )
        assert guess.status_code == 404

    response = client.post(
        CHECK_URL, {"code": code_of(vip)}, content_type="application/json"
    )

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 600
    assert "Try again in" in response.json()["detail"]


@override_settings(
    OMNICHANNEL={"OFFER_CODE_CHECKS_PER_IP": 2, "OFFER_CODE_CHECKS_PER_PROFILE": 100}
)
def test_api_check_guessing_limited_per_ip(client):
    statuses = [
        client.post(
            CHECK_URL,
            {"code": f"GUESS{n}"},
            content_type="application/json",
            REMOTE_ADDR="192.0.2.7",
        ).status_code
        for n in range(3)
    ]
    other_ip = client.post(
        CHECK_URL,
        {"code": "GUESS9"},
        content_type="application/json",
        REMOTE_ADDR="192.0.2.8",
    )

    assert statuses == [404, 404, 429]
    assert other_ip.status_code == 404


def test_api_staff_checks_for_customer(client, anna, offer):
    code = code_of(issue_code(offer, anna))
    staff = User.objects.create_user("till", "till@example.com", "pw", is_staff=True)
    client.force_login(staff)

    response = client.post(
        CHECK_URL,
        {"code": code, "profile": str(anna.uuid)},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["offer"]["code"] == code


def test_api_customer_cannot_act_for_another(client, customer, anna):
    response = client.get(f"/omnichannel/api/offers/?profile={anna.uuid}")

    assert response.status_code == 403


def test_api_staff_bad_profile_uuid(client):
    staff = User.objects.create_user("till", "till@example.com", "pw", is_staff=True)
    client.force_login(staff)

    bad = client.get("/omnichannel/api/offers/?profile=not-a-uuid")
    missing = client.get(
        "/omnichannel/api/offers/?profile=00000000-0000-0000-0000-000000000000"
    )

    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"
    assert "profile" in bad.json()["errors"]
    assert missing.status_code == 404
