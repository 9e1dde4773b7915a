"""SQL-looking strings, oversized bodies and wrong content types on the public
endpoints: stored verbatim, or rejected with a clear JSON error and nothing written."""

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from omnichannel.conversations.models import Conversation, Message
from omnichannel.profiles.models import Event, Profile
from tests.security.conftest import SQL

pytestmark = pytest.mark.django_db

INBOUND_SECRET = "inbound-secret-for-the-attack-suite-0123456789"


@pytest.mark.parametrize("text", SQL)
def test_sql_strings_stored_verbatim(api, client, text):
    identify = api.post(
        reverse("omnichannel:api-identify"),
        {"email": "zoe@shop.example", "traits": {"last_name": text}},
        format="json",
    )
    event = api.post(
        reverse("omnichannel:api-events"),
        {"event": "searched", "email": "zoe@shop.example", "properties": {"q": text}},
        format="json",
    )
    chat = client.post(
        reverse("omnichannel:chat_start"),
        {"message": text},
        content_type="application/json",
    )

    assert identify.status_code == 201, identify.content
    assert event.status_code in (200, 201), event.content
    assert chat.status_code == 201, chat.content
    assert Profile.objects.get(email="zoe@shop.example").last_name == text
    assert Event.objects.get(name="searched").properties == {"q": text}
    assert Message.objects.get().body == text
    assert Profile.objects.filter(last_name=text).count() == 1


def test_oversized_event_batch_rejected_whole(api, omnichannel_settings):
    omnichannel_settings(API_MAX_REQUEST_BYTES=2000)
    events = [
        {"event": "page_viewed", "email": f"c{index}@shop.example"}
        for index in range(60)
    ]

    response = api.post(
        reverse("omnichannel:api-events-batch"), {"events": events}, format="json"
    )

    assert response.status_code in (400, 413)
    assert response.json()["code"] == "request_too_large"
    assert "limit is 2000" in response.json()["detail"]
    assert not Event.objects.exists()
    assert not Profile.objects.exists()


def test_oversized_chat_body_rejected(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = client.post(
        reverse("omnichannel:chat_start"),
        json.dumps({"message": "x" * 5000}),
        content_type="application/json",
    )

    assert response.status_code in (400, 413)
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "request_too_large"
    assert "larger than the 1000 bytes" in response.json()["detail"]
    assert not Conversation.objects.exists()


def test_too_long_chat_message_rejected(client):
    response = client.post(
        reverse("omnichannel:chat_start"),
        {"message": "x" * 2001},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "message" in response.json()["errors"]
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", "event=page_viewed"),
        ("application/x-www-form-urlencoded", "event=page_viewed&email=a%40b.c"),
        ("application/xml", "<event>page_viewed</event>"),
    ],
)
def test_events_wrong_content_type(api, content_type, body):
    response = api.post(
        reverse("omnichannel:api-events"), body, content_type=content_type
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert content_type in response.json()["detail"]
    assert not Event.objects.exists()


def test_events_malformed_json(api):
    response = api.post(
        reverse("omnichannel:api-events"),
        '{"event": "page_viewed", ',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Event.objects.exists()


def test_chat_wrong_content_type(client):
    response = client.post(reverse("omnichannel:chat_start"), {"message": "Hi"})

    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]
    assert not Conversation.objects.exists()


def test_inbound_webhook_wrong_content_type(omnichannel_settings):
    omnichannel_settings(INBOUND_WEBHOOK_SECRET=INBOUND_SECRET)
    client = APIClient()

    response = client.post(
        reverse("omnichannel:inbound_sms"),
        "from=%2B4915112345678&text=Hi",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {INBOUND_SECRET}",
    )

    assert response.status_code == 415
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "x" * 5000])
def test_webpush_subscription_rejects_bad_body(client, body):
    response = client.post(
        reverse("omnichannel:webpush-subscription"),
        body,
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["detail"]
