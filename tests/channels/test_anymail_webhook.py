"""Provider webhooks through anymail's own views: one webhook, one change each."""

import base64
import json

import pytest
from django.urls import include, path
from django.utils import timezone

from omnichannel.channels import services
from omnichannel.channels.models import Delivery
from omnichannel.consent.models import ConsentRecord, Suppression
from omnichannel.consent.services import has_consent, record_consent
from omnichannel.profiles.models import Event, Identity
from tests import urls as test_urls

urlpatterns = [
    *test_urls.urlpatterns,
    path("anymail/", include("anymail.urls")),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

SECRET = "hook:s3cret"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


@pytest.fixture
def sent_email(on_commit, customer, email_template):
    Identity.objects.create(profile=customer, kind="email", value=customer.email)
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="webhook"
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    return delivery


def post_postmark(client, payload):
    token = base64.b64encode(SECRET.encode()).decode()
    return client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
    )


def test_postmark_bounce_webhook_records_once(client, customer, sent_email):
    payload = {
        "RecordType": "Bounce",
        "ID": 4242,
        "Type": "HardBounce",
        "MessageID": sent_email.provider_message_id,
        "Email": "zoe.sample@example.com",
        "BouncedAt": "2026-12-04T10:00:00Z",
        "Metadata": {"delivery_id": str(sent_email.pk)},
    }

    response = post_postmark(client, payload)

    assert response.status_code == 200
    assert Event.objects.filter(name="message_bounced").count() == 1
    assert Suppression.objects.count() == 1
    assert Suppression.objects.get().reason == "bounce"
    assert has_consent(customer, "email") is True


def test_postmark_unsubscribe_webhook_withdraws_once(client, customer, sent_email):
    record_consent(customer, "email", True)
    before = ConsentRecord.objects.filter(profile=customer).count()
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": sent_email.provider_message_id,
        "Recipient": "zoe.sample@example.com",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "ChangedAt": timezone.now().isoformat(),
        "Metadata": {"delivery_id": str(sent_email.pk)},
    }

    response = post_postmark(client, payload)

    assert response.status_code == 200
    assert ConsentRecord.objects.filter(profile=customer).count() == before + 1
    withdrawal = ConsentRecord.objects.filter(profile=customer).latest("id")
    assert withdrawal.granted is False
    assert withdrawal.source == "esp-unsubscribe"
    assert has_consent(customer, "email") is False
    assert Event.objects.filter(name="unsubscribed").count() == 1
    assert Suppression.objects.count() == 0


def test_postmark_webhook_for_unknown_message_still_suppresses(client):
    payload = {
        "RecordType": "Bounce",
        "ID": 4243,
        "Type": "HardBounce",
        "MessageID": "not-sent-by-the-app",
        "Email": "someone@example.org",
        "BouncedAt": "2026-12-04T10:00:00Z",
    }

    response = post_postmark(client, payload)

    assert response.status_code == 200
    assert Suppression.objects.get().address == "someone@example.org"
    assert not Event.objects.filter(name="message_bounced").exists()
