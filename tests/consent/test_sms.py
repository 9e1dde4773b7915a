from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from omnichannel.consent.models import ConsentRecord, Suppression
from omnichannel.consent.services import (
    has_consent,
    is_suppressed,
    record_consent,
    suppress,
)
from omnichannel.consent.sms import handle_sms_keyword, keyword_of
from omnichannel.exceptions import InvalidIdentifier
from omnichannel.profiles.models import Profile
from omnichannel.profiles.services import identify
from tests.factories import api_key

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2026, 12, 5, 9, 59, 59, tzinfo=BERLIN)
NUMBER = "+447700900789"


@pytest.fixture
def profile():
    profile = identify(phone=NUMBER)
    record_consent(profile, "sms", True, at=datetime(2026, 3, 2, 10, tzinfo=BERLIN))
    return profile


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop. ", "Stop!", "opt out", "UNSUBSCRIBE"]
)
def test_stop_keywords_withdraw_and_suppress(profile, text):
    assert handle_sms_keyword(NUMBER, text, AT) is True
    assert is_suppressed("sms", NUMBER) is True
    assert has_consent(profile, "sms", at=AT) is False
    record = ConsentRecord.objects.get(granted=False)
    assert record.recorded_at == AT
    assert record.source == "sms-keyword"


@pytest.mark.parametrize(
    "text", ["stop sending me stuff", "Where is my order?", "", "STOPP"]
)
def test_other_messages_are_not_keywords(profile, text):
    assert handle_sms_keyword(NUMBER, text, AT) is False
    assert is_suppressed("sms", NUMBER) is False
    assert has_consent(profile, "sms", at=AT) is True


def test_stop_from_unknown_number_suppresses_without_profile():
    assert handle_sms_keyword("447700900555", "STOP", AT) is True
    assert is_suppressed("sms", "+447700900555") is True
    assert Profile.objects.count() == 0


def test_start_lifts_stop_and_grants(profile):
    handle_sms_keyword(NUMBER, "STOP", AT)
    later = datetime(2026, 12, 6, 12, tzinfo=BERLIN)
    assert handle_sms_keyword(NUMBER, "start", later) is True
    assert is_suppressed("sms", NUMBER) is False
    assert has_consent(profile, "sms", at=later) is True


def test_start_does_not_lift_bounce_suppression(profile):
    suppress("sms", NUMBER, Suppression.Reason.BOUNCE)
    handle_sms_keyword(NUMBER, "START", AT)
    assert is_suppressed("sms", NUMBER) is True


def test_stop_twice_records_once(profile):
    handle_sms_keyword(NUMBER, "STOP", AT)
    handle_sms_keyword(NUMBER, "STOP", AT)
    assert ConsentRecord.objects.filter(granted=False).count() == 1
    assert Suppression.objects.count() == 1


def test_keyword_from_invalid_number_is_rejected():
    with pytest.raises(InvalidIdentifier):
        handle_sms_keyword("12345", "STOP", AT)
    assert Suppression.objects.count() == 0


@override_settings(
    OMNICHANNEL={"SMS_STOP_KEYWORDS": ["HALT"], "SMS_START_KEYWORDS": ["GO"]}
)
def test_keywords_are_configurable(profile):
    assert handle_sms_keyword(NUMBER, "STOP", AT) is False
    assert handle_sms_keyword(NUMBER, "halt", AT) is True


def test_keyword_of_normalises():
    assert keyword_of("  opt-out ") == "OPT OUT"


def test_webhook_applies_keyword(profile):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('consent:write')}")
    response = client.post(
        "/omnichannel/api/sms/inbound/",
        urlencode(
            {"sender": "447700900789", "text": "STOP", "received_at": AT.isoformat()}
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.json() == {"handled": True}
    assert has_consent(profile, "sms", at=AT) is False


def test_webhook_passes_on_other_text(profile):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('consent:write')}")
    response = client.post(
        "/omnichannel/api/sms/inbound/",
        {"sender": NUMBER, "text": "Hello"},
        format="json",
    )
    assert response.json() == {"handled": False}


def test_webhook_bad_sender_is_400():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('consent:write')}")
    response = client.post(
        "/omnichannel/api/sms/inbound/",
        {"sender": "12345", "text": "STOP"},
        format="json",
    )
    assert response.status_code == 400
    assert "sender" in response.json()["errors"]


def test_webhook_needs_scope():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('events:write')}")
    response = client.post(
        "/omnichannel/api/sms/inbound/",
        {"sender": NUMBER, "text": "STOP"},
        format="json",
    )
    assert response.status_code == 403
    assert Suppression.objects.count() == 0
