import pytest
from django.core import mail
from rest_framework.test import APIClient

from omnichannel.consent.models import ConsentRecord, OptInRequest
from omnichannel.consent.services import has_consent
from omnichannel.profiles.models import Profile
from omnichannel.profiles.services import identify
from tests.factories import api_key

pytestmark = pytest.mark.django_db


def client_with(*scopes):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(*scopes)}")
    return client


def test_consent_api_records_proof():
    client = client_with("consent:write")
    response = client.post(
        "/omnichannel/api/consent/",
        {
            "email": "Anna.Example@Example.COM ",
            "channel": "email",
            "granted": True,
            "source": "pos:berlin-1",
            "ip_address": "203.0.113.7",
            "user_agent": "Till/2.1",
            "wording_version": "till-2026",
        },
        format="json",
    )
    assert response.status_code == 201
    record = ConsentRecord.objects.get()
    assert record.profile.email == "anna.example@example.com"
    assert record.source == "pos:berlin-1"
    assert record.wording_version == "till-2026"
    assert record.proof["api_key"]
    assert has_consent(record.profile, "email") is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "email", "granted": True, "source": "x"}, "profile"),
        (
            {
                "email": "a@example.com",
                "channel": "fax",
                "granted": True,
                "source": "x",
            },
            "channel",
        ),
        ({"email": "a@example.com", "channel": "email", "source": "x"}, "granted"),
        ({"email": "a@example.com", "channel": "email", "granted": True}, "source"),
        (
            {"email": "null", "channel": "email", "granted": True, "source": "x"},
            "email",
        ),
        (
            {
                "email": "a@example.com",
                "channel": "email",
                "granted": True,
                "source": "x",
                "recorded_at": "2999-01-01T00:00:00Z",
            },
            "recorded_at",
        ),
        (
            {
                "email": "a@example.com",
                "channel": "email",
                "granted": True,
                "source": "x",
                "ip_address": "999.1.1.1",
            },
            "ip_address",
        ),
    ],
)
def test_consent_api_bad_input_is_400(body, field):
    response = client_with("consent:write").post(
        "/omnichannel/api/consent/", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert ConsentRecord.objects.count() == 0
    assert Profile.objects.count() == 0


def test_consent_state_api():
    profile = identify(email="a@example.com")
    client_with("consent:write").post(
        "/omnichannel/api/consent/",
        {
            "profile": str(profile.uuid),
            "channel": "sms",
            "granted": True,
            "source": "x",
        },
        format="json",
    )
    response = client_with("consent:read").get(
        f"/omnichannel/api/profiles/{profile.uuid}/consent/"
    )
    assert response.status_code == 200
    channels = response.json()["channels"]
    assert channels["sms"]["granted"] is True
    assert channels["email"]["granted"] is False
    bad = client_with("consent:read").get(
        f"/omnichannel/api/profiles/{profile.uuid}/consent/?purpose=spam"
    )
    assert bad.status_code == 400


def test_opt_in_api_sends_confirmation(django_capture_on_commit_callbacks):
    client = client_with("consent:write")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/omnichannel/api/opt-in/",
            {
                "email": "lena@example.org",
                "source": "app-signup",
                "wording_version": "app-2026",
            },
            format="json",
        )
    assert response.status_code == 202
    assert OptInRequest.objects.get().source == "app-signup"
    assert len(mail.outbox) == 1
    assert ConsentRecord.objects.count() == 0
