import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from omnichannel.authentication import create_api_key
from omnichannel.profiles.models import APIKey, Event, Identity, Profile
from tests.factories import api_key

pytestmark = pytest.mark.django_db

IDENTIFY = "/omnichannel/api/identify/"
EVENTS = "/omnichannel/api/events/"
BATCH = "/omnichannel/api/events/batch/"


def client_with(*scopes):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(*scopes)}")
    return client


@pytest.fixture
def writer():
    return client_with("events:write", "profiles:write", "profiles:read")


def row_counts():
    return (Profile.objects.count(), Identity.objects.count(), Event.objects.count())


# Authentication and scopes


def test_api_without_key_is_401():
    response = APIClient().post(IDENTIFY, {"email": "a@example.com"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert Profile.objects.count() == 0


def test_api_with_wrong_key_is_401():
    api_key("profiles:write")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer omni_000000000000_forged")
    response = client.post(IDENTIFY, {"email": "a@example.com"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_api_key_altered_secret_is_401():
    raw = api_key("profiles:write")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw[:-2]}xx")
    response = client.post(IDENTIFY, {"email": "a@example.com"}, format="json")
    assert response.status_code == 401


def test_api_key_without_scope_is_403():
    client = client_with("profiles:read")
    response = client.post(
        EVENTS, {"event": "custom", "email": "a@x.com"}, format="json"
    )
    assert response.status_code == 403
    assert "events:write" in response.json()["detail"]
    assert Event.objects.count() == 0


def test_api_key_revoked_is_401():
    key, raw = create_api_key("till", ["profiles:write"])
    APIKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post(IDENTIFY, {"email": "a@example.com"}, format="json")
    assert response.status_code == 401


def test_api_key_expired_is_401():
    _key, raw = create_api_key(
        "till", ["profiles:write"], expires_at=timezone.now() - timedelta(seconds=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post(IDENTIFY, {"email": "a@example.com"}, format="json")
    assert response.status_code == 401


def test_api_key_stored_only_as_digest():
    key, raw = create_api_key("till", ["profiles:write"])
    stored = APIKey.objects.get(pk=key.pk)
    assert raw not in json.dumps(
        {f.name: str(getattr(stored, f.name)) for f in APIKey._meta.fields}
    )
    assert len(stored.digest) == 64


def test_api_key_header_variants():
    raw = api_key("profiles:write")
    for headers in (
        {"HTTP_X_API_KEY": raw},
        {"HTTP_AUTHORIZATION": "Basic " + _basic("webhook", raw)},
    ):
        client = APIClient()
        client.credentials(**headers)
        response = client.post(IDENTIFY, {"email": "a@example.com"}, format="json")
        assert response.status_code in (200, 201), headers


def _basic(user, password):
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_create_api_key_rejects_unknown_scope():
    with pytest.raises(ValueError, match="Unknown scopes"):
        create_api_key("till", ["events:wirte"])
    assert APIKey.objects.count() == 0


def test_api_key_last_used_is_recorded():
    key, raw = create_api_key("till", ["profiles:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.post(IDENTIFY, {"email": "a@example.com"}, format="json")
    key.refresh_from_db()
    assert key.last_used_at is not None


# Identify


def test_identify_creates_then_finds(writer):
    first = writer.post(IDENTIFY, {"email": "Anna@Example.COM "}, format="json")
    second = writer.post(IDENTIFY, {"email": "anna@example.com"}, format="json")
    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["profile"] == second.json()["profile"]
    assert second.json()["email"] == "anna@example.com"


def test_identify_reports_identifier_left_with_another(writer):
    writer.post(
        IDENTIFY,
        {"email": "anna@example.com", "phone": "+49 30 7654321"},
        format="json",
    )

    response = writer.post(
        IDENTIFY,
        {"email": "ben@example.com", "phone": "+49 30 7654321"},
        format="json",
    )

    body = response.json()
    assert response.status_code == 201
    assert body["merged"] == []
    assert [item["kind"] for item in body["not_attached"]] == ["phone"]
    assert body["not_attached"][0]["value"] == "+49307654321"
    assert "merge them in the admin" in body["not_attached"][0]["reason"]


def test_identify_usual_call_has_empty_not_attached(writer):
    writer.post(IDENTIFY, {"email": "anna@example.com"}, format="json")

    response = writer.post(IDENTIFY, {"email": "anna@example.com"}, format="json")

    assert response.json()["not_attached"] == []


def test_identify_applies_traits(writer):
    response = writer.post(
        IDENTIFY,
        {
            "email": "anna@example.com",
            "traits": {
                "first_name": "Anna",
                "time_zone": "Europe/Berlin",
                "country": "de",
                "birthday": "1990-05-17",
            },
        },
        format="json",
    )
    assert response.status_code == 201
    profile = Profile.objects.get()
    assert profile.first_name == "Anna"
    assert profile.time_zone == "Europe/Berlin"
    assert profile.country == "DE"
    assert str(profile.birthday) == "1990-05-17"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "test@test.com"}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"phone": 447700900123}, "phone"),
        ({}, "identifiers"),
        ({"email": "a@example.com", "nickname": "x"}, "nickname"),
        (
            {"email": "a@example.com", "traits": {"time_zone": "Mars/Olympus"}},
            "traits.time_zone",
        ),
        (
            {"email": "a@example.com", "traits": {"birthday": "17.05.1990"}},
            "traits.birthday",
        ),
        ({"email": "a@example.com", "traits": {"shoe": "44"}}, "traits.shoe"),
        ({"email": "a@example.com", "traits": "Anna"}, "traits"),
    ],
)
def test_identify_bad_input_is_400_per_field(writer, body, field):
    response = writer.post(IDENTIFY, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    assert field in data["errors"]
    assert data["errors"][field][0]
    assert row_counts() == (0, 0, 0)


def test_identify_bad_phone_with_good_email_writes_nothing(writer):
    response = writer.post(
        IDENTIFY, {"email": "zoe.sample@example.com", "phone": "12345"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["phone"]
    assert row_counts() == (0, 0, 0)


def test_identify_body_not_object_is_400(writer):
    response = writer.post(IDENTIFY, ["a@example.com"], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


def test_identify_malformed_json_is_400(writer):
    response = writer.post(IDENTIFY, '{"email": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# Single events


def test_event_single_is_stored(writer):
    response = writer.post(
        EVENTS,
        {
            "event": "product_viewed",
            "email": "ANNA.EXAMPLE@EXAMPLE.COM",
            "properties": {"sku": "MUG-042"},
            "occurred_at": "2026-12-03T12:00:00+01:00",
        },
        format="json",
    )
    assert response.status_code == 201
    event = Event.objects.get()
    assert event.name == "product_viewed"
    assert event.profile.email == "anna.example@example.com"
    assert event.occurred_at.isoformat() == "2026-12-03T11:00:00+00:00"
    assert event.source == "api"
    assert response.json()["profile"] == str(event.profile.uuid)


def test_event_single_duplicate_key_returns_first(writer):
    body = {"event": "custom", "email": "a@example.com", "idempotency_key": "k1"}
    first = writer.post(EVENTS, body, format="json")
    second = writer.post(EVENTS, body, format="json")
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["event"] == first.json()["event"]
    assert Event.objects.count() == 1


def test_event_order_updates_aggregates(writer):
    for order_id, total in (("1001", "59.00"), ("1002", 12.5)):
        writer.post(
            EVENTS,
            {
                "event": "order_placed",
                "email": "a@example.com",
                "revenue": total,
                "object_type": "order",
                "object_id": order_id,
            },
            format="json",
        )
    profile = Profile.objects.get()
    assert profile.order_count == 2
    assert profile.total_spent == Decimal("71.50")
    assert Event.objects.filter(currency="EUR").count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "ordr_placed", "email": "a@example.com"}, "event"),
        ({"email": "a@example.com"}, "event"),
        ({"event": "custom"}, "identifiers"),
        (
            {"event": "custom", "email": "a@example.com", "properties": [1]},
            "properties",
        ),
        (
            {
                "event": "custom",
                "email": "a@example.com",
                "properties": {"x": "y" * 40000},
            },
            "properties",
        ),
        (
            {"event": "custom", "email": "a@example.com", "occurred_at": "yesterday"},
            "occurred_at",
        ),
        (
            {
                "event": "custom",
                "email": "a@example.com",
                "occurred_at": "2026-12-03T12:00:00",
            },
            "occurred_at",
        ),
        (
            {
                "event": "custom",
                "email": "a@example.com",
                "occurred_at": "2999-01-01T00:00:00Z",
            },
            "occurred_at",
        ),
        ({"event": "custom", "email": "a@example.com", "revenue": "12.345"}, "revenue"),
        ({"event": "custom", "email": "a@example.com", "revenue": "NaN"}, "revenue"),
        ({"event": "custom", "email": "a@example.com", "revenue": True}, "revenue"),
        ({"event": "custom", "email": "a@example.com", "revenue": 1e30}, "revenue"),
        (
            {"event": "custom", "email": "a@example.com", "revenue": "1E+400"},
            "revenue",
        ),
        (
            {"event": "custom", "email": "a@example.com", "revenue": "0.00000001"},
            "revenue",
        ),
        ({"event": "custom", "email": "a@example.com", "currency": "EURO"}, "currency"),
        (
            {"event": "custom", "email": "a@example.com", "idempotency_key": ""},
            "idempotency_key",
        ),
        ({"event": "custom", "email": "a@example.com", "source": "x" * 33}, "source"),
        ({"event": "custom", "profile": "not-a-uuid"}, "profile"),
        (
            {
                "event": "custom",
                "profile": "6f1c2a8e-0f6c-4a53-9d5e-2b7b9c1d0e11",
                "email": "a@x.com",
            },
            "profile",
        ),
        (
            {
                "event": "custom",
                "email": "a@example.com",
                "occured_at": "2026-12-03T12:00:00Z",
            },
            "occured_at",
        ),
    ],
)
def test_event_bad_input_is_400_per_field(writer, body, field):
    response = writer.post(EVENTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert row_counts() == (0, 0, 0)


def test_event_unknown_profile_uuid_is_400(writer):
    response = writer.post(
        EVENTS,
        {"event": "custom", "profile": "6f1c2a8e-0f6c-4a53-9d5e-2b7b9c1d0e11"},
        format="json",
    )
    assert response.status_code == 400
    assert "profile" in response.json()["errors"]


def test_event_by_profile_uuid_of_merged_profile_lands_on_survivor(writer):
    from omnichannel.profiles.services import identify, merge_profiles

    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    merge_profiles(survivor, loser)
    response = writer.post(
        EVENTS, {"event": "custom", "profile": str(loser.uuid)}, format="json"
    )
    assert response.status_code == 201
    assert Event.objects.get().profile_id == survivor.pk


# Batches


def batch_of(count, **extra):
    return {
        "events": [
            {
                "event": "product_viewed",
                "email": f"customer{i % 7}@example.com",
                "properties": {"sku": f"SKU-{i}"},
                "idempotency_key": f"batch-{i}",
                **extra,
            }
            for i in range(count)
        ]
    }


def test_batch_stores_every_event(writer):
    response = writer.post(BATCH, batch_of(50), format="json")
    assert response.status_code == 200
    assert response.json() == {"received": 50, "stored": 50, "duplicates": []}
    assert Event.objects.count() == 50
    assert Profile.objects.count() == 7


def test_batch_resent_adds_nothing(writer):
    writer.post(BATCH, batch_of(50), format="json")
    before = row_counts()
    response = writer.post(BATCH, batch_of(50), format="json")
    assert response.status_code == 200
    assert response.json()["stored"] == 0
    assert response.json()["duplicates"] == list(range(50))
    assert row_counts() == before


def test_batch_repeated_key_inside_batch_stored_once(writer):
    body = {
        "events": [
            {"event": "custom", "email": "a@example.com", "idempotency_key": "same"},
            {"event": "custom", "email": "a@example.com", "idempotency_key": "same"},
        ]
    }
    response = writer.post(BATCH, body, format="json")
    assert response.json() == {"received": 2, "stored": 1, "duplicates": [1]}
    assert Event.objects.count() == 1


def test_batch_is_all_or_nothing(writer):
    body = batch_of(10)
    body["events"][7]["phone"] = "12345"
    body["events"][3]["event"] = "unknown_thing"
    response = writer.post(BATCH, body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]["events"]
    assert sorted(errors) == ["3", "7"]
    assert "event" in errors["3"]
    assert "phone" in errors["7"]
    assert row_counts() == (0, 0, 0)


def test_batch_with_unknown_profile_writes_nothing(writer):
    body = batch_of(5)
    body["events"].append(
        {"event": "custom", "profile": "6f1c2a8e-0f6c-4a53-9d5e-2b7b9c1d0e11"}
    )
    response = writer.post(BATCH, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]["events"]) == ["5"]
    assert row_counts() == (0, 0, 0)


def test_batch_accepts_the_maximum_size(writer):
    response = writer.post(BATCH, batch_of(1000), format="json")
    assert response.status_code == 200
    assert response.json()["stored"] == 1000


def test_batch_over_maximum_size_is_400(writer):
    response = writer.post(BATCH, batch_of(1001), format="json")
    assert response.status_code == 400
    assert "at most 1000" in response.json()["errors"]["events"][0]
    assert row_counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "body", [{}, {"events": []}, {"events": "x"}, {"events": [], "extra": 1}, [1]]
)
def test_batch_malformed_body_is_400(writer, body):
    response = writer.post(BATCH, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]


def test_batch_malformed_json_is_400(writer):
    response = writer.post(BATCH, '{"events": [', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@override_settings(OMNICHANNEL={"API_MAX_REQUEST_BYTES": 10_000})
def test_batch_request_too_large_is_400(writer):
    response = writer.post(BATCH, batch_of(200), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    assert "10000" in response.json()["detail"]
    assert row_counts() == (0, 0, 0)


def test_batch_wrong_content_type_is_415(writer):
    response = writer.post(BATCH, "events=1", content_type="text/plain")
    assert response.status_code == 415


def test_batch_joins_visitor_to_known_profile(writer):
    visitor = "7f3a9c" * 5 + "ab"
    writer.post(EVENTS, {"event": "page_viewed", "visitor_id": visitor}, format="json")
    writer.post(IDENTIFY, {"email": "lena@example.org"}, format="json")
    response = writer.post(
        BATCH,
        {
            "events": [
                {
                    "event": "signed_up",
                    "email": "lena@example.org",
                    "visitor_id": visitor,
                },
                {"event": "page_viewed", "visitor_id": visitor},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    live = Profile.objects.filter(merged_into__isnull=True)
    assert live.count() == 1
    assert live.get().events.count() == 3


def test_batch_updates_last_seen_and_orders(writer):
    writer.post(
        BATCH,
        {
            "events": [
                {
                    "event": "page_viewed",
                    "email": "a@example.com",
                    "occurred_at": "2026-12-01T10:00:00Z",
                },
                {
                    "event": "page_viewed",
                    "email": "a@example.com",
                    "occurred_at": "2026-12-02T10:00:00Z",
                },
                {
                    "event": "order_placed",
                    "email": "a@example.com",
                    "revenue": "20.00",
                    "object_type": "order",
                    "object_id": "1",
                },
            ]
        },
        format="json",
    )
    profile = Profile.objects.get()
    assert profile.last_seen_at.isoformat() == "2026-12-02T10:00:00+00:00"
    assert profile.order_count == 1
    assert profile.total_spent == Decimal("20.00")


def test_batch_sends_event_tracked_per_event(writer):
    from omnichannel.profiles.signals import event_tracked

    seen = []

    def receiver(sender, event, profile, **kwargs):
        seen.append((event.name, profile.pk))

    event_tracked.connect(receiver)
    try:
        writer.post(BATCH, batch_of(5), format="json")
    finally:
        event_tracked.disconnect(receiver)
    assert len(seen) == 5


# Profiles and preferences


def test_profile_read(writer):
    created = writer.post(IDENTIFY, {"email": "a@example.com"}, format="json").json()
    response = writer.get(f"/omnichannel/api/profiles/{created['profile']}/")
    assert response.status_code == 200
    data = response.json()
    assert data["email"] == "a@example.com"
    assert data["identities"] == [{"kind": "email", "value": "a@example.com"}]


def test_profile_read_unknown_is_404(writer):
    response = writer.get(
        "/omnichannel/api/profiles/6f1c2a8e-0f6c-4a53-9d5e-2b7b9c1d0e11/"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_preferences_stored_with_source(writer):
    created = writer.post(IDENTIFY, {"email": "a@example.com"}, format="json").json()
    url = f"/omnichannel/api/profiles/{created['profile']}/preferences/"
    response = writer.post(
        url,
        {
            "source": "popup:spring-quiz",
            "preferences": [
                {"key": "interest", "value": "men's running shoes"},
                {"key": "shoe_size", "value": "44"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201
    listed = writer.get(url).json()
    assert {(p["key"], p["value"], p["source"]) for p in listed} == {
        ("interest", "men's running shoes", "popup:spring-quiz"),
        ("shoe_size", "44", "popup:spring-quiz"),
    }


def test_preferences_bad_key_is_400(writer):
    created = writer.post(IDENTIFY, {"email": "a@example.com"}, format="json").json()
    url = f"/omnichannel/api/profiles/{created['profile']}/preferences/"
    response = writer.post(
        url,
        {"source": "form", "preferences": [{"key": "Shoe Size!", "value": "44"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "preferences" in response.json()["errors"]
