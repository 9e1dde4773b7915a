"""Forged and replayed signatures on the inbound webhooks, tokens of one customer
used for another, and tracking links that would redirect elsewhere."""

import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from omnichannel.channels import links
from omnichannel.channels.backends.webhook import sign, verify_signature
from omnichannel.channels.models import Delivery, MessageTemplate, ShortLink
from omnichannel.consent.services import has_consent, record_consent
from omnichannel.consent.unsubscribe import (
    make_preferences_token,
    make_unsubscribe_token,
)
from omnichannel.conversations.models import Message
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify

pytestmark = pytest.mark.django_db

INBOUND_SECRET = "inbound-secret-for-the-attack-suite-0123456789"
WEBHOOK_SECRET = "w" * 40


@pytest.fixture
def customers():
    anna = identify(email="anna@shop.example")
    ben = identify(email="ben@shop.example")
    for profile in (anna, ben):
        record_consent(profile, "email", True, source="test")
    return anna, ben


def _inbound(secret):
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return client.post(
        reverse("omnichannel:inbound_sms"),
        {"sender": "+4915112345678", "text": "Where is my order?"},
        format="json",
        **headers,
    )


@pytest.mark.parametrize(
    ("secret", "status"),
    [(None, 401), ("wrong", 401), (INBOUND_SECRET[:-1], 401), ("", 401)],
)
def test_inbound_webhook_rejects_forged_secret(omnichannel_settings, secret, status):
    omnichannel_settings(INBOUND_WEBHOOK_SECRET=INBOUND_SECRET, CONVERSATION_BOT=None)

    response = _inbound(secret)

    assert response.status_code in (status, 403)
    assert response.json()["code"] in ("not_authenticated", "invalid_secret")
    assert not Message.objects.exists()


def test_inbound_webhook_off_without_secret(omnichannel_settings):
    omnichannel_settings(INBOUND_WEBHOOK_SECRET=None)

    response = _inbound("anything")

    assert response.status_code == 403
    assert response.json()["code"] == "webhook_disabled"
    assert not Message.objects.exists()


def test_inbound_webhook_replay_adds_message_once(omnichannel_settings):
    omnichannel_settings(INBOUND_WEBHOOK_SECRET=INBOUND_SECRET, CONVERSATION_BOT=None)
    payload = {
        "sender": "+4915112345678",
        "text": "Where is my order?",
        "message_id": "SM-1",
    }
    client = APIClient()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {INBOUND_SECRET}"}
    url = reverse("omnichannel:inbound_sms")

    first = client.post(url, payload, format="json", **auth)
    again = client.post(url, payload, format="json", **auth)

    assert first.status_code == 201, first.content
    assert again.status_code in (200, 201)
    assert Message.objects.count() == 1


def test_outbound_webhook_signature_rejects_forgery_and_replay():
    body = b'{"delivery_id": 1}'
    now = int(time.time())
    signature = sign(WEBHOOK_SECRET, now, body)

    assert verify_signature(WEBHOOK_SECRET, body, str(now), signature)
    assert not verify_signature(WEBHOOK_SECRET, body + b" ", str(now), signature)
    assert not verify_signature("x" * 40, body, str(now), signature)
    assert not verify_signature(WEBHOOK_SECRET, body, str(now + 1), signature)
    assert not verify_signature(
        WEBHOOK_SECRET, body, str(now - 3600), sign(WEBHOOK_SECRET, now - 3600, body)
    )
    assert not verify_signature(WEBHOOK_SECRET, body, "not-a-time", signature)
    assert not verify_signature(WEBHOOK_SECRET, body, str(now), "v1=" + "0" * 64)


def test_unsubscribe_token_cannot_be_moved_to_another_customer(customers):
    anna, ben = customers
    token = make_unsubscribe_token(anna)
    payload, _colon, signature = token.rpartition(":")
    forged_payload = make_unsubscribe_token(ben).rpartition(":")[0]

    client = Client()
    forged = client.post(
        reverse("omnichannel:unsubscribe", args=[f"{forged_payload}:{signature}"])
    )
    tampered = client.post(reverse("omnichannel:unsubscribe", args=[token[:-2] + "xx"]))

    assert forged.status_code == 400
    assert tampered.status_code == 400
    assert has_consent(ben, "email") is True
    assert has_consent(anna, "email") is True


def test_unsubscribe_token_acts_only_for_its_customer(customers):
    anna, ben = customers

    response = Client().post(
        reverse("omnichannel:unsubscribe", args=[make_unsubscribe_token(anna)])
    )

    assert response.status_code == 200
    assert has_consent(anna, "email") is False
    assert has_consent(ben, "email") is True


def test_preference_token_is_not_an_unsubscribe_token(customers):
    anna, _ben = customers

    response = Client().post(
        reverse("omnichannel:unsubscribe", args=[make_preferences_token(anna)])
    )

    assert response.status_code == 400
    assert has_consent(anna, "email") is True


def test_preference_page_rejects_another_customers_token(customers):
    anna, ben = customers
    token = make_preferences_token(anna)
    forged = make_preferences_token(ben).split(":")[0] + ":" + token.split(":", 1)[1]

    response = Client().get(reverse("omnichannel:preferences", args=[forged]))

    assert response.status_code == 400
    assert "ben@shop.example" not in response.content.decode()


def test_unsubscribe_token_signed_with_other_key_rejected(customers, settings):
    anna, _ben = customers
    token = make_unsubscribe_token(anna)
    settings.SECRET_KEY = "another-secret-key-of-another-site-0123456789abcdef"

    response = Client().post(reverse("omnichannel:unsubscribe", args=[token]))

    assert response.status_code == 400
    assert has_consent(anna, "email") is True


# Tracking links


@pytest.fixture
def delivery(customers):
    anna, _ben = customers
    template = MessageTemplate.objects.create(
        name="News", slug="news", channel="email", subject="News", body="<p>Hi</p>"
    )
    return Delivery.objects.create(
        profile=anna,
        channel="email",
        template=template,
        dedupe_key="news-1",
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
    )


def test_click_redirects_only_to_signed_target(client, delivery):
    token = links.click_token(delivery.pk, "https://shop.example/sale")

    response = client.get(reverse("omnichannel:track-click", args=[token]))

    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/sale"


def test_click_with_edited_target_is_refused(client, delivery):
    token = links.click_token(delivery.pk, "https://shop.example/sale")
    _value, signature = token.rsplit(":", 1)
    evil = signing.Signer(key="x").sign_object([delivery.pk, "https://evil.example"])
    forged = evil.rsplit(":", 1)[0] + ":" + signature

    responses = [
        client.get(reverse("omnichannel:track-click", args=[forged])),
        client.get(reverse("omnichannel:track-click", args=[evil])),
        client.get(
            reverse("omnichannel:track-click", args=[token]),
            {"next": "https://evil.example", "url": "https://evil.example"},
        ),
    ]

    assert responses[0].status_code == 404
    assert responses[1].status_code == 404
    assert responses[2]["Location"] == "https://shop.example/sale"
    assert not Event.objects.filter(
        name="message_clicked", properties__url="https://evil.example"
    ).exists()


def test_click_token_of_open_pixel_is_refused(client, delivery):
    token = links.open_token(delivery.pk)

    response = client.get(reverse("omnichannel:track-click", args=[token]))

    assert response.status_code == 404


def test_signed_script_target_is_not_redirected(client, delivery):
    token = links._signer_for(links.CLICK_SALT).sign_object(
        [delivery.pk, "javascript:alert(1)"]
    )

    response = client.get(reverse("omnichannel:track-click", args=[token]))

    assert response.status_code == 404
    assert "Location" not in response


def test_short_link_needs_signed_code(client, delivery):
    code = links.new_short_code()
    ShortLink.objects.create(code=code, url="https://shop.example/a", delivery=delivery)
    guessed = code[:6] + "AAAA"
    ShortLink.objects.create(code=guessed, url="https://evil.example/", delivery=None)

    genuine = client.get(reverse("omnichannel:short-link", args=[code]))
    forged = client.get(reverse("omnichannel:short-link", args=[guessed]))

    assert genuine.status_code == 302
    assert genuine["Location"] == "https://shop.example/a"
    assert forged.status_code == 404


def test_open_pixel_with_forged_token_records_nothing(client, delivery):
    forged = links.open_token(delivery.pk)[:-1] + "x"

    response = client.get(reverse("omnichannel:track-open", args=[forged]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert not Event.objects.filter(name="message_opened").exists()
