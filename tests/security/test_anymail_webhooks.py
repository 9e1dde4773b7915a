"""Anymail's tracking webhook in front of the suppression list: a forged request
changes nothing, and a replayed genuine one is applied once."""

import base64

import pytest
from django.test import Client

from omnichannel.consent.models import Suppression

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls")]

URL = "/anymail/postmark/tracking/"
BOUNCE = {
    "RecordType": "Bounce",
    "Type": "HardBounce",
    "Email": "zoe@shop.example",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "BouncedAt": "2026-12-04T10:00:00Z",
}


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "anymail:hook-secret-0123456789"}


def _post(credentials=None):
    headers = {}
    if credentials:
        token = base64.b64encode(credentials.encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
    return Client().post(URL, BOUNCE, content_type="application/json", **headers)


@pytest.mark.parametrize(
    "credentials",
    [None, "anymail:wrong", "other:hook-secret-0123456789", "anymail:"],
)
def test_forged_tracking_webhook_changes_nothing(credentials):
    response = _post(credentials)

    assert response.status_code == 400
    assert not Suppression.objects.exists()


def test_replayed_tracking_webhook_applied_once():
    first = _post("anymail:hook-secret-0123456789")
    replay = _post("anymail:hook-secret-0123456789")

    assert first.status_code == 200
    assert replay.status_code == 200
    assert Suppression.objects.filter(address="zoe@shop.example").count() == 1
