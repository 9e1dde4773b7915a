"""Journeys against the cases real systems got wrong, with a controlled clock."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from omnichannel.channels.backends import locmem
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.consent.services import record_consent
from omnichannel.journeys.engine import enroll, run_due
from omnichannel.journeys.models import Enrollment
from omnichannel.journeys.recipes import install_recipes
from omnichannel.profiles.services import identify, track
from omnichannel.segments.models import Segment
from omnichannel.segments.signals import segment_entered
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
CONSENT_SINCE = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)


def run_at(moment, django_capture_on_commit_callbacks):
    """Run the engine at ``moment`` with the clock set there, dispatching sends."""
    with time_machine.travel(moment, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            run_due(moment)


def sms_journey():
    MessageTemplate.objects.create(
        name="Reminder SMS",
        slug="reminder-sms",
        channel="sms",
        body="Your cart is waiting.",
        recommendation_count=0,
    )
    return make_journey(
        {
            "start": "sms",
            "steps": {
                "sms": {"type": "send", "channel": "sms", "template": "reminder-sms"}
            },
        },
        slug="sms-now",
        reentry_policy="always",
    )


def sms_customer(phone, zone=""):
    profile = identify(phone=phone)
    if zone:
        profile.time_zone = zone
        profile.save()
    record_consent(profile, "sms", True, source="test", at=CONSENT_SINCE)
    return profile


@pytest.mark.parametrize(
    ("zone", "due", "sent_at"),
    [
        ("America/Los_Angeles", "2026-12-04T17:30:00Z", "2026-12-04T17:30:00Z"),
        ("Asia/Tokyo", "2026-12-04T17:30:00Z", "2026-12-05T00:00:00Z"),
        ("", "2026-12-04T17:30:00Z", "2026-12-04T17:30:00Z"),
        ("America/Phoenix", "2026-07-15T15:30:00Z", "2026-07-15T16:00:00Z"),
    ],
)
def test_quiet_hours_are_recipient_local(
    channels_settings, django_capture_on_commit_callbacks, zone, due, sent_at
):
    journey = sms_journey()
    due = datetime.fromisoformat(due)
    sent_at = datetime.fromisoformat(sent_at)
    profile = sms_customer("+447700900123", zone)
    enroll(journey, profile, at=due)

    run_at(due, django_capture_on_commit_callbacks)
    if sent_at > due:
        assert locmem.outbox == []
        enrollment = Enrollment.objects.get()
        assert enrollment.next_run_at == sent_at
        assert enrollment.step_runs.filter(reason="quiet_hours").count() == 1
        run_at(sent_at - timedelta(seconds=1), django_capture_on_commit_callbacks)
        assert locmem.outbox == []
        run_at(sent_at, django_capture_on_commit_callbacks)

    assert len(locmem.outbox) == 1
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.sent_at == sent_at


@pytest.fixture
def cascade(channels_settings):
    install_recipes(only=["abandoned-cart"])
    return Enrollment.objects


def start_cart(profile, at, cart_id="501"):
    track(
        "cart_updated",
        profile=profile,
        occurred_at=at,
        object_type="cart",
        object_id=cart_id,
        source="shop",
        properties={
            "cart_id": cart_id,
            "total": "14.90",
            "currency": "EUR",
            "lines": [
                {"sku": "MUG-042", "name": "Mug", "quantity": 1, "unit_price": "14.90"}
            ],
        },
    )


def zoe():
    profile = identify(email="zoe.sample@example.com", phone="+447700900789")
    for channel in ("email", "sms"):
        record_consent(profile, channel, True, source="signup", at=CONSENT_SINCE)
    return profile


def test_withdrawn_email_consent_stops_scheduled_email(
    cascade, django_capture_on_commit_callbacks
):
    profile = zoe()
    start_cart(profile, datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN))

    run_at(
        datetime(2026, 12, 4, 11, 0, tzinfo=BERLIN), django_capture_on_commit_callbacks
    )
    assert len(mail.outbox) == 1
    first = Delivery.objects.get(step_key="email_1")
    track(
        "message_opened",
        profile=profile,
        source="email",
        occurred_at=datetime(2026, 12, 4, 11, 30, tzinfo=BERLIN),
        properties={"delivery_id": first.pk},
    )
    record_consent(
        profile,
        "email",
        False,
        source="unsubscribe",
        at=datetime(2026, 12, 4, 13, 20, tzinfo=BERLIN),
    )

    due = datetime(2026, 12, 5, 10, 0, tzinfo=BERLIN)
    run_at(due, django_capture_on_commit_callbacks)
    run_at(due + timedelta(hours=1), django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    second = Delivery.objects.get(step_key="email_2")
    assert second.status == Delivery.Status.SUPPRESSED
    assert second.reason == "no_consent"
    assert second.attempts <= 1
    assert Delivery.objects.filter(step_key="email_2").count() == 1
    assert locmem.outbox == []


def test_sms_stop_one_second_before_wins(cascade, django_capture_on_commit_callbacks):
    profile = zoe()
    start_cart(profile, datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN))
    run_at(
        datetime(2026, 12, 4, 11, 0, tzinfo=BERLIN), django_capture_on_commit_callbacks
    )
    record_consent(
        profile,
        "sms",
        False,
        source="sms_stop",
        at=datetime(2026, 12, 5, 9, 59, 59, tzinfo=BERLIN),
    )

    due = datetime(2026, 12, 5, 10, 0, tzinfo=BERLIN)
    run_at(due, django_capture_on_commit_callbacks)
    run_at(due + timedelta(hours=2), django_capture_on_commit_callbacks)

    assert locmem.outbox == []
    sms = Delivery.objects.get(step_key="sms_1")
    assert sms.status == Delivery.Status.SUPPRESSED
    assert sms.reason == "no_consent"
    assert Delivery.objects.filter(channel="sms").count() == 1


def test_cascade_branches_on_open(cascade, django_capture_on_commit_callbacks):
    opener = zoe()
    other = identify(email="anna.example@example.com", phone="+447700900123")
    for channel in ("email", "sms"):
        record_consent(other, channel, True, source="signup", at=CONSENT_SINCE)
    start = datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN)
    start_cart(opener, start, cart_id="1")
    start_cart(other, start, cart_id="2")

    run_at(start + timedelta(hours=1), django_capture_on_commit_callbacks)
    assert Delivery.objects.filter(step_key="email_1").count() == 2
    first = Delivery.objects.get(step_key="email_1", profile=opener)
    track(
        "message_opened",
        profile=opener,
        source="email",
        occurred_at=start + timedelta(hours=2),
        properties={"delivery_id": first.pk},
    )

    run_at(start + timedelta(hours=24), django_capture_on_commit_callbacks)
    assert list(
        Delivery.objects.filter(step_key="email_2").values_list("profile", flat=True)
    ) == [opener.pk]
    assert list(
        Delivery.objects.filter(step_key="sms_1").values_list("profile", flat=True)
    ) == [other.pk]

    run_at(start + timedelta(hours=72), django_capture_on_commit_callbacks)
    assert Delivery.objects.filter(step_key="popup").count() == 2
    assert Enrollment.objects.filter(status="completed").count() == 2


@pytest.mark.parametrize("order_after", [timedelta(minutes=30), timedelta(hours=5)])
def test_order_stops_cascade(cascade, django_capture_on_commit_callbacks, order_after):
    profile = zoe()
    start = datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN)
    start_cart(profile, start)
    run_at(start + timedelta(hours=1), django_capture_on_commit_callbacks)
    sent_before = Delivery.objects.count()
    track(
        "order_placed",
        profile=profile,
        occurred_at=start + order_after,
        object_type="order",
        object_id="A-1",
        revenue="14.90",
    )

    for hours in (24, 72, 100):
        run_at(start + timedelta(hours=hours), django_capture_on_commit_callbacks)

    assert Delivery.objects.count() == sent_before
    assert Enrollment.objects.get().status == Enrollment.Status.CONVERTED


def test_late_order_cancels_rest_after_one_email(
    cascade, django_capture_on_commit_callbacks
):
    profile = zoe()
    start = datetime(2026, 12, 4, 14, 1, tzinfo=BERLIN)
    start_cart(profile, start)
    run_at(
        datetime(2026, 12, 4, 15, 2, 40, tzinfo=BERLIN),
        django_capture_on_commit_callbacks,
    )
    with time_machine.travel(datetime(2026, 12, 4, 15, 20, tzinfo=BERLIN), tick=False):
        track(
            "order_placed",
            profile=profile,
            object_type="order",
            object_id="A-2",
            occurred_at=datetime(2026, 12, 4, 14, 3, tzinfo=BERLIN),
            revenue="19.80",
        )
    for hours in (24, 72, 100):
        run_at(start + timedelta(hours=hours), django_capture_on_commit_callbacks)

    assert Delivery.objects.count() == 1
    assert len(mail.outbox) == 1
    assert Enrollment.objects.get().exit_reason == "goal_reached"


@pytest.mark.parametrize(
    ("policy", "days", "expected"),
    [("never", 0, 1), ("after_days", 60, 1), ("always", 0, 2)],
)
def test_vip_welcome_reentry(
    channels_settings, django_capture_on_commit_callbacks, policy, days, expected
):
    champions = Segment.objects.create(name="Champions", slug="champions")
    install_recipes(only=["vip-welcome"])
    from omnichannel.journeys.models import Journey

    Journey.objects.filter(slug="vip-welcome").update(
        reentry_policy=policy, reentry_days=days
    )
    profile = zoe()
    profile.time_zone = "Europe/Berlin"
    profile.save()

    def enter(moment):
        with time_machine.travel(moment, tick=False):
            segment_entered.send(
                sender=Segment, segment=champions, profile=profile, at=moment
            )

    enter(datetime(2026, 11, 1, 3, 0, tzinfo=BERLIN))
    run_at(
        datetime(2026, 11, 1, 10, 0, tzinfo=BERLIN), django_capture_on_commit_callbacks
    )
    assert len(mail.outbox) == 1
    enter(datetime(2026, 12, 1, 3, 0, tzinfo=BERLIN))
    run_at(
        datetime(2026, 12, 1, 9, 59, tzinfo=BERLIN), django_capture_on_commit_callbacks
    )
    run_at(
        datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN), django_capture_on_commit_callbacks
    )

    assert len(mail.outbox) == expected
    if expected == 2:
        second = Delivery.objects.order_by("-pk").first()
        assert second.sent_at == datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)
        assert Enrollment.objects.order_by(
            "-pk"
        ).first().step_runs.first().step_key == ("tag")
