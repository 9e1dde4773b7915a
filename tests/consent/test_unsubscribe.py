import re
import urllib.request
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from django.core import signing
from django.test import Client, override_settings
from django.utils import timezone

from omnichannel.consent.models import ConsentRecord
from omnichannel.consent.services import has_consent, record_consent
from omnichannel.consent.unsubscribe import (
    build_unsubscribe_headers,
    make_preferences_token,
    unsubscribe_url,
)
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    profile = identify(email="zoe.sample@example.com")
    record_consent(
        profile, "email", True, source="popup", at=timezone.now() - timedelta(days=1)
    )
    return profile


def https_link(headers):
    return re.search(r"<(https://[^>]+)>", headers["List-Unsubscribe"]).group(1)


def path_of(url):
    return urlsplit(url).path


def one_click(path, **extra):
    """POST as a mail provider does: no cookies, no CSRF token, form-encoded body."""
    client = Client(enforce_csrf_checks=True)
    return client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        HTTP_USER_AGENT="Mail-Provider-Unsubscriber/1.0",
        **extra,
    )


def test_headers_follow_rfc_8058(profile):
    headers = build_unsubscribe_headers(profile, "email")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = [part.strip() for part in headers["List-Unsubscribe"].split(",")]
    assert parts[0].startswith("<https://shop.example/omnichannel/unsubscribe/")
    assert parts[1].startswith("<mailto:unsubscribe@shop.example?subject=")
    assert all(part.startswith("<") and part.endswith(">") for part in parts)


@override_settings(OMNICHANNEL={"SITE_URL": "https://shop.example"})
def test_headers_without_mailbox_have_only_https(profile):
    headers = build_unsubscribe_headers(profile, "email")
    assert headers["List-Unsubscribe"].count("<") == 1


def test_one_click_post_unsubscribes(profile):
    path = path_of(https_link(build_unsubscribe_headers(profile, "email")))
    response = one_click(path, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    assert has_consent(profile, "email") is False
    record = ConsentRecord.objects.filter(granted=False).get()
    assert record.source == "unsubscribe-one-click"
    assert record.ip_address == "198.51.100.4"
    assert record.user_agent == "Mail-Provider-Unsubscriber/1.0"
    assert record.proof == {"method": "one-click"}
    assert Event.objects.get(name="unsubscribed").properties["method"] == "one-click"


def test_one_click_post_over_real_http(profile, live_server):
    path = path_of(https_link(build_unsubscribe_headers(profile, "email")))
    request = urllib.request.Request(
        live_server.url + path,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert has_consent(profile, "email") is False


def test_one_click_is_idempotent(profile):
    path = path_of(unsubscribe_url(profile))
    first = one_click(path)
    second = one_click(path)
    assert first.status_code == 200
    assert second.status_code == 200
    assert ConsentRecord.objects.filter(granted=False).count() == 1
    assert Event.objects.filter(name="unsubscribed").count() == 1


def test_unsubscribe_stops_messages_already_scheduled(profile):
    scheduled_for = timezone.now() + timedelta(days=1)
    assert has_consent(profile, "email", at=scheduled_for) is True
    one_click(path_of(unsubscribe_url(profile)))
    assert has_consent(profile, "email", at=scheduled_for) is False


def test_get_shows_page_and_changes_nothing(profile):
    url = unsubscribe_url(profile)
    response = Client().get(path_of(url))
    assert response.status_code == 200
    assert b'<form method="post"' in response.content
    assert has_consent(profile, "email") is True
    assert ConsentRecord.objects.count() == 1
    assert Event.objects.count() == 0
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-cache" in response["Cache-Control"]


def test_page_button_unsubscribes(profile):
    client = Client(enforce_csrf_checks=True)
    path = path_of(unsubscribe_url(profile))
    client.get(path)
    response = client.post(path, {"confirm": "1"})
    assert response.status_code == 200
    assert ConsentRecord.objects.get(granted=False).source == "unsubscribe-page"


def tamper(token):
    """Change one character in the middle of the token."""
    middle = len(token) // 2
    replacement = "A" if token[middle] != "A" else "B"
    return token[:middle] + replacement + token[middle + 1 :]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda profile, token: tamper(token),
        lambda profile, token: token[:-1],
        lambda profile, token: "x" * 40,
        lambda profile, token: make_preferences_token(profile),
        lambda profile, token: signing.dumps(
            {"p": profile.uuid.hex, "c": "email", "u": "marketing"}, salt="other"
        ),
        lambda profile, token: signing.dumps(
            {"p": profile.uuid.hex, "c": "fax", "u": "marketing"},
            salt="omnichannel.consent.unsubscribe",
        ),
    ],
)
def test_forged_or_altered_token_changes_nothing(profile, make_token):
    token = path_of(unsubscribe_url(profile)).rstrip("/").rsplit("/", 1)[1]
    bad = make_token(profile, token)
    response = one_click(f"/omnichannel/unsubscribe/{bad}/")
    assert response.status_code in (400, 404)
    assert has_consent(profile, "email") is True
    assert ConsentRecord.objects.count() == 1
    assert Event.objects.count() == 0


def test_token_of_other_profile_does_not_touch_this_one(profile):
    other = identify(email="other@example.com")
    record_consent(other, "email", True)
    one_click(path_of(unsubscribe_url(other)))
    assert has_consent(profile, "email") is True
    assert has_consent(other, "email") is False


def test_topic_link_withdraws_only_the_topic(profile):
    one_click(path_of(unsubscribe_url(profile, topic="new-arrivals")))
    assert has_consent(profile, "email") is True
    assert has_consent(profile, "email", topic="new-arrivals") is False


def test_token_of_merged_profile_unsubscribes_survivor(profile):
    from omnichannel.profiles.merging import merge_profiles

    loser = identify(phone="+447700900456")
    url = unsubscribe_url(loser)
    merge_profiles(profile, loser)
    one_click(path_of(url))
    assert has_consent(profile, "email") is False


def test_sms_link_withdraws_sms(profile):
    record_consent(profile, "sms", True)
    one_click(path_of(unsubscribe_url(profile, "sms")))
    assert has_consent(profile, "sms") is False
    assert has_consent(profile, "email") is True


def test_mailto_unsubscribe_through_anymail_inbound(profile):
    headers = build_unsubscribe_headers(profile, "email")
    mailto = re.search(
        r"<mailto:([^?]+)\?subject=([^>]+)>", headers["List-Unsubscribe"]
    )
    message = AnymailInboundMessage.construct(
        from_email="zoe.sample@example.com",
        to=mailto.group(1),
        subject=unquote(mailto.group(2)),
        text="",
    )
    inbound.send(
        sender=object,
        event=AnymailInboundEvent(event_type="inbound", message=message),
        esp_name="test",
    )
    assert has_consent(profile, "email") is False
    assert ConsentRecord.objects.get(granted=False).source == "unsubscribe-mailto"


def test_mail_to_other_mailbox_is_ignored(profile):
    token = path_of(unsubscribe_url(profile)).rstrip("/").rsplit("/", 1)[1]
    message = AnymailInboundMessage.construct(
        to="orders@shop.example", subject=f"unsubscribe {token}", text=""
    )
    inbound.send(
        sender=object,
        event=AnymailInboundEvent(event_type="inbound", message=message),
        esp_name="test",
    )
    assert has_consent(profile, "email") is True
