"""End-to-end cases of consent withdrawal and of one customer behind many spellings.

The times and values come from cases that real shop systems got wrong: a
withdrawal one second before a send must win, one email address in four
spellings is one customer, and one UK phone number in five spellings is one
customer (+44 7700 900xxx is the range the UK reserves for fiction).
"""

from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client, override_settings
from rest_framework.test import APIClient

from omnichannel.consent.models import ConsentRecord
from omnichannel.consent.services import has_consent, is_suppressed, record_consent
from omnichannel.consent.unsubscribe import unsubscribe_url
from omnichannel.exceptions import InvalidIdentifier
from omnichannel.profiles.models import Event, Identity, Profile
from omnichannel.profiles.services import identify, track
from tests.factories import api_key

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def at(text, zone=BERLIN):
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def api(*scopes):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(*scopes)}")
    return client


@pytest.fixture
def zoe():
    profile = identify(email="zoe.sample@example.com", phone="+447700900789")
    since = at("2026-03-02T10:00:00")
    record_consent(profile, "email", True, at=since, source="checkout")
    record_consent(profile, "sms", True, at=since, source="checkout")
    track("cart_updated", profile=profile, occurred_at=at("2026-12-04T10:00:00"))
    return profile


def test_email_withdrawn_before_second_email_is_not_sent(zoe):
    first_send = at("2026-12-04T11:00:00")
    second_due = at("2026-12-05T10:00:00")
    # Enrolment read consent as granted; the send time must read it again.
    assert has_consent(zoe, "email", at=first_send) is True
    assert has_consent(zoe, "email", at=second_due) is True

    path = urlsplit(unsubscribe_url(zoe)).path
    with time_machine.travel(at("2026-12-04T13:20:00"), tick=False):
        response = Client(enforce_csrf_checks=True).post(
            path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200

    assert has_consent(zoe, "email", at=at("2026-12-04T13:19:59")) is True
    assert has_consent(zoe, "email", at=second_due) is False
    assert has_consent(zoe, "sms", at=second_due) is True
    withdrawal = ConsentRecord.objects.get(channel="email", granted=False)
    assert withdrawal.recorded_at == at("2026-12-04T13:20:00")


def test_stop_one_second_before_sms_wins(zoe):
    stop_at = at("2026-12-05T09:59:59")
    sms_due = at("2026-12-05T10:00:00")
    response = api("consent:write").post(
        "/omnichannel/api/sms/inbound/",
        urlencode(
            {
                "sender": "+447700900789",
                "text": "STOP",
                "received_at": stop_at.isoformat(),
            }
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.json() == {"handled": True}
    assert has_consent(zoe, "sms", at=at("2026-12-05T09:59:58")) is True
    assert has_consent(zoe, "sms", at=sms_due) is False
    assert is_suppressed("sms", "+447700900789") is True
    assert has_consent(zoe, "email", at=sms_due) is True
    assert ConsentRecord.objects.filter(channel="sms", granted=False).count() == 1


def test_one_email_in_four_spellings_is_one_customer():
    popup = identify(email="Anna.Example@Example.COM ", source="popup")
    record_consent(popup, "email", True, at=at("2026-11-30T08:10:00"), source="popup")
    track(
        "order_placed",
        email="anna.example@example.com",
        occurred_at=at("2026-12-02T19:45:00"),
        revenue=Decimal("59.00"),
        currency="EUR",
        object_type="order",
        object_id="A-1",
        idempotency_key="order:A-1",
        source="checkout",
    )
    client = api("events:write")
    viewed = client.post(
        "/omnichannel/api/events/",
        {
            "event": "product_viewed",
            "email": "ANNA.EXAMPLE@EXAMPLE.COM",
            "occurred_at": at("2026-12-03T12:00:00").isoformat(),
            "properties": {"sku": "MUG-042"},
        },
        format="json",
    )
    assert viewed.status_code == 201
    second = client.post(
        "/omnichannel/api/events/",
        {
            "event": "order_placed",
            "email": "Anna.Example@example.com",
            "occurred_at": at("2026-12-04T09:00:00").isoformat(),
            "revenue": "12.50",
            "currency": "EUR",
            "object_type": "order",
            "object_id": "A-2",
            "idempotency_key": "order:A-2",
        },
        format="json",
    )
    assert second.status_code == 201

    assert Profile.objects.count() == 1
    anna = Profile.objects.get()
    assert anna.email == "anna.example@example.com"
    assert anna.order_count == 2
    assert anna.total_spent == Decimal("71.50")
    assert anna.events.filter(name="order_placed").count() == 2
    assert anna.events.filter(name="product_viewed").count() == 1
    assert has_consent(anna, "email") is True

    other = Profile.objects.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(
            profile=other, kind="email", value="anna.example@example.com"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Profile.objects.create(email="anna.example@example.com")


@override_settings(OMNICHANNEL={"DEFAULT_PHONE_REGION": "GB"})
def test_one_phone_in_five_spellings_is_one_customer(tmp_path):
    track(
        "order_placed",
        phone="07700 900123",
        revenue=Decimal("20.00"),
        object_type="order",
        object_id="P-1",
        source="checkout",
    )
    opt_in = api("consent:write").post(
        "/omnichannel/api/consent/",
        {
            "phone": "+44 7700 900123",
            "channel": "sms",
            "granted": True,
            "source": "sms-form",
        },
        format="json",
    )
    assert opt_in.status_code == 201
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "order_id,created_at,total,phone\n"
        'P-2,2026-11-02T10:00:00+00:00,15.00,"+44 (0)7700 900123"\n'
    )
    call_command("omnichannel_import_orders", str(csv), file_format="csv", verbosity=0)
    webhook = api("consent:write").post(
        "/omnichannel/api/sms/inbound/",
        {"sender": "447700900123", "text": "START"},
        format="json",
    )
    assert webhook.json() == {"handled": True}
    chat = identify(phone="0044 7700 900123", source="chat")

    assert Profile.objects.count() == 1
    assert chat.phone == "+447700900123"
    assert list(Identity.objects.values_list("value", flat=True)) == ["+447700900123"]
    assert Event.objects.filter(name="order_placed").count() == 2
    assert has_consent(chat, "sms") is True

    with pytest.raises(InvalidIdentifier) as raised:
        identify(phone="12345")
    assert raised.value.field == "phone"
    rejected = api("profiles:write").post(
        "/omnichannel/api/identify/", {"phone": "12345"}, format="json"
    )
    assert rejected.status_code == 400
    assert "phone" in rejected.json()["errors"]
    assert Profile.objects.count() == 1


def test_national_phone_without_default_country_is_rejected():
    with pytest.raises(InvalidIdentifier) as raised:
        identify(phone="07700900123")
    assert "DEFAULT_PHONE_REGION" in raised.value.message
    response = api("profiles:write").post(
        "/omnichannel/api/identify/", {"phone": "07700900123"}, format="json"
    )
    assert response.status_code == 400
    assert "international form" in response.json()["errors"]["phone"][0]
    assert Profile.objects.count() == 0
