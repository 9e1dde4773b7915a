import pytest
from anymail.signals import AnymailTrackingEvent, tracking

from omnichannel.consent.models import ConsentRecord, Suppression
from omnichannel.consent.services import has_consent, is_suppressed, record_consent
from omnichannel.profiles.services import identify

pytestmark = pytest.mark.django_db


def send_tracking(event_type, recipient="Zoe.Sample@Example.com", **extra):
    event = AnymailTrackingEvent(
        event_type=event_type, recipient=recipient, event_id="ev-1", **extra
    )
    tracking.send(sender=object, event=event, esp_name="TestESP")


@pytest.fixture
def profile():
    profile = identify(email="zoe.sample@example.com")
    record_consent(profile, "email", True)
    return profile


def test_bounce_suppresses_address(profile):
    send_tracking("bounced")
    row = Suppression.objects.get()
    assert row.reason == "bounce"
    assert row.address == "zoe.sample@example.com"
    assert row.details["esp"] == "TestESP"
    assert is_suppressed("email", "zoe.sample@example.com") is True
    assert has_consent(profile, "email") is True


def test_complaint_suppresses_and_withdraws(profile):
    send_tracking("complained")
    assert Suppression.objects.get().reason == "complaint"
    assert has_consent(profile, "email") is False
    assert ConsentRecord.objects.get(granted=False).source == "esp-complaint"


def test_provider_unsubscribe_withdraws_without_suppressing(profile):
    send_tracking("unsubscribed")
    assert has_consent(profile, "email") is False
    assert Suppression.objects.count() == 0


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("bounced", "bounce"), ("invalid", "rejected"), ("spam", "complaint")],
)
def test_rejection_suppresses(profile, reason, expected):
    send_tracking("rejected", reject_reason=reason)
    assert Suppression.objects.get().reason == expected


@pytest.mark.parametrize("event_type", ["delivered", "opened", "clicked", "deferred"])
def test_other_tracking_events_change_nothing(profile, event_type):
    send_tracking(event_type)
    assert Suppression.objects.count() == 0
    assert has_consent(profile, "email") is True


def test_repeated_bounce_keeps_one_row(profile):
    send_tracking("bounced")
    send_tracking("bounced")
    assert Suppression.objects.count() == 1


def test_event_without_recipient_is_ignored():
    send_tracking("bounced", recipient=None)
    assert Suppression.objects.count() == 0
