"""The customer context: the JSON endpoint and the data behind the console."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from omnichannel.consent.services import record_consent
from omnichannel.conversations.customer import customer_context
from omnichannel.journeys.models import Enrollment, Journey, JourneyVersion
from omnichannel.predictions.models import RFMScore
from omnichannel.profiles.services import identify, merge_profiles, recompute_aggregates
from omnichannel.segments.models import Segment, SegmentMembership
from tests.factories import EventFactory, OrderEventFactory, ProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(django_user_model):
    user = django_user_model.objects.create_user("sam", "sam@example.com", "pw")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_profile"))
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def customer():
    profile = identify(email="lena@example.org")
    profile.first_name = "Lena"
    profile.save()
    now = timezone.now()
    OrderEventFactory(
        profile=profile,
        object_id="NL-1",
        revenue=Decimal("40.00"),
        occurred_at=now - timedelta(days=40),
        properties={"lines": [{"sku": "A", "name": "Jacket", "quantity": 1}]},
    )
    OrderEventFactory(
        profile=profile,
        object_id="NL-2",
        revenue=Decimal("20.00"),
        occurred_at=now - timedelta(days=2),
    )
    EventFactory(
        profile=profile, name="order_paid", object_type="order", object_id="NL-2"
    )
    EventFactory(
        profile=profile,
        name="cart_updated",
        object_type="cart",
        object_id="7",
        occurred_at=now - timedelta(days=3),
        properties={"total": "14.90", "currency": "EUR", "item_count": 1, "lines": []},
    )
    EventFactory(
        profile=profile,
        name="cart_updated",
        object_type="cart",
        object_id="9",
        occurred_at=now - timedelta(hours=1),
        properties={"total": "99.00", "currency": "EUR", "item_count": 3, "lines": []},
    )
    EventFactory(
        profile=profile, name="cart_converted", object_type="cart", object_id="7"
    )
    recompute_aggregates([profile.pk])
    profile.refresh_from_db()
    return profile


def test_context_holds_value_orders_and_cart(customer):
    context = customer_context(customer)

    assert context["lifetime_value"] == {"amount": "60.00", "currency": "EUR"}
    assert context["order_count"] == 2
    assert [o["order_id"] for o in context["recent_orders"]] == ["NL-2", "NL-1"]
    assert [o["status"] for o in context["recent_orders"]] == ["paid", "placed"]
    assert context["recent_orders"][1]["lines"][0]["name"] == "Jacket"
    assert context["open_cart"]["cart_id"] == "9"
    assert context["open_cart"]["item_count"] == 3
    assert context["rfm"] is None
    assert context["churn_risk"] is None
    assert context["is_vip"] is False


def test_context_holds_segments_journeys_consents(customer):
    segment = Segment.objects.create(name="VIP", slug="vip")
    SegmentMembership.objects.create(segment=segment, profile=customer)
    old = Segment.objects.create(name="Old", slug="old")
    SegmentMembership.objects.create(
        segment=old, profile=customer, exited_at=timezone.now()
    )
    journey = Journey.objects.create(
        name="Welcome", slug="welcome", trigger_type="manual"
    )
    version = JourneyVersion.objects.create(journey=journey, number=1, graph={})
    Enrollment.objects.create(
        journey=journey, version=version, profile=customer, current_step="email-1"
    )
    record_consent(customer, "email", True, at=timezone.now() - timedelta(days=2))
    record_consent(customer, "email", False, at=timezone.now() - timedelta(days=1))
    record_consent(customer, "sms", True)

    context = customer_context(customer)

    assert [s["slug"] for s in context["segments"]] == ["vip"]
    assert context["is_vip"] is True
    assert context["vip_reasons"] == ["segment:vip"]
    assert context["journeys"][0]["name"] == "Welcome"
    assert context["journeys"][0]["current_step"] == "email-1"
    consents = {(c["channel"], c["granted"]) for c in context["consents"]}
    assert consents == {("email", False), ("sms", True)}


def test_vip_by_rfm_group_or_value(customer, omnichannel_settings):
    RFMScore.objects.create(
        profile=customer,
        recency_score=5,
        frequency_score=4,
        monetary_score=5,
        group="loyal",
    )
    customer.refresh_from_db()
    assert customer_context(customer)["vip_reasons"] == ["rfm:loyal"]

    omnichannel_settings(VIP_RFM_GROUPS=[], VIP_MIN_LIFETIME_VALUE="50")
    assert customer_context(customer)["vip_reasons"] == ["lifetime_value"]

    omnichannel_settings(VIP_RFM_GROUPS=[], VIP_MIN_LIFETIME_VALUE="60.01")
    assert customer_context(customer)["is_vip"] is False


def test_churn_risk_read_when_scored(customer):
    from omnichannel.predictions.models import CustomerPrediction

    CustomerPrediction.objects.create(profile=customer, churn_risk=0.37)
    customer.refresh_from_db()

    assert customer_context(customer)["churn_risk"] == pytest.approx(0.37)


def test_endpoint_by_uuid(reader, customer):
    response = reader.get(reverse("omnichannel:customer_context", args=[customer.uuid]))

    assert response.status_code == 200
    data = response.json()
    assert data["profile"]["email"] == "lena@example.org"
    assert data["lifetime_value"]["amount"] == "60.00"
    assert data["recent_orders"][0]["placed_at"].endswith("Z")


def test_endpoint_by_email_and_phone(reader, customer):
    identify(email="lena@example.org", phone="+447700900123")
    lookup = reverse("omnichannel:customer_context_lookup")

    by_email = reader.get(lookup, {"email": " LENA@example.org "})
    by_phone = reader.get(lookup, {"phone": "0044 7700 900123"})

    assert by_email.json()["profile"]["uuid"] == str(customer.uuid)
    assert by_phone.json()["profile"]["uuid"] == str(customer.uuid)


def test_endpoint_follows_merge(reader, customer):
    loser = ProfileFactory()
    merge_profiles(customer, loser)

    response = reader.get(reverse("omnichannel:customer_context", args=[loser.uuid]))

    assert response.json()["profile"]["uuid"] == str(customer.uuid)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({}, 400, "email"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"phone": "12345"}, 400, "phone"),
        ({"email": "nobody@example.org"}, 404, None),
    ],
)
def test_endpoint_bad_lookup(reader, query, status, field):
    response = reader.get(reverse("omnichannel:customer_context_lookup"), query)

    assert response.status_code == status
    if field:
        assert field in response.json()["errors"]
    else:
        assert response.json()["code"] == "customer_not_found"


def test_endpoint_unknown_uuid_is_404(reader):
    url = reverse(
        "omnichannel:customer_context",
        args=["00000000-0000-0000-0000-000000000000"],
    )

    assert reader.get(url).status_code == 404


def test_endpoint_needs_staff_permission(client, django_user_model, customer):
    url = reverse("omnichannel:customer_context", args=[customer.uuid])
    anonymous = APIClient().get(url)
    staff = django_user_model.objects.create_user("st", is_staff=True)
    no_permission = APIClient()
    no_permission.force_login(staff)

    assert anonymous.status_code == 403
    assert anonymous.json()["code"] == "not_authenticated"
    response = no_permission.get(url)
    assert response.status_code == 403
    assert "view profile" in response.json()["detail"]


def test_context_reads_in_six_queries(customer, django_assert_num_queries):
    RFMScore.objects.create(
        profile=customer,
        recency_score=5,
        frequency_score=4,
        monetary_score=5,
        group="loyal",
    )
    for number in range(3, 8):
        OrderEventFactory(profile=customer, object_id=f"NL-{number}")
    customer.refresh_from_db()

    # Scores, orders with their status, cart, segments, journeys, consents.
    with django_assert_num_queries(6):
        context = customer_context(customer)

    assert context["rfm"]["group"] == "loyal"
    assert len(context["recent_orders"]) == 5


def test_order_status_from_own_events_only(customer):
    other = identify(email="tom@example.org")
    EventFactory(
        profile=other, name="order_refunded", object_type="order", object_id="NL-1"
    )
    EventFactory(
        profile=customer,
        name="order_cancelled",
        object_type="order",
        object_id="NL-2",
    )
    OrderEventFactory(profile=customer, object_id="")
    EventFactory(profile=customer, name="order_paid", object_type="order", object_id="")

    orders = customer_context(customer)["recent_orders"]

    statuses = {order["order_id"]: order["status"] for order in orders}
    assert statuses == {"NL-2": "cancelled", "NL-1": "placed", "": "placed"}
