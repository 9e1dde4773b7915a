from datetime import UTC, datetime, timedelta

import pytest

from omnichannel.channels.guards import (
    frequency_cap_reached,
    parse_clock,
    quiet_hours_defer_until,
)
from omnichannel.channels.models import Delivery, MessageTemplate
from tests.factories import ProfileFactory

QUIET = {"QUIET_HOURS": ("21:00", "09:00"), "DEFAULT_TIME_ZONE": "Europe/Paris"}
DUE = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)


@pytest.fixture
def quiet_hours(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, **QUIET}


@pytest.mark.django_db
@pytest.mark.usefixtures("quiet_hours")
def test_quiet_hours_los_angeles_morning_sends():
    profile = ProfileFactory(time_zone="America/Los_Angeles")
    assert quiet_hours_defer_until(profile, DUE) is None


@pytest.mark.django_db
@pytest.mark.usefixtures("quiet_hours")
def test_quiet_hours_tokyo_night_defers_to_local_nine():
    profile = ProfileFactory(time_zone="Asia/Tokyo")
    assert quiet_hours_defer_until(profile, DUE) == datetime(
        2026, 12, 5, 0, 0, tzinfo=UTC
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("quiet_hours")
def test_quiet_hours_without_zone_uses_shop_default():
    profile = ProfileFactory(time_zone="")
    assert quiet_hours_defer_until(profile, DUE) is None
    late = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)  # 22:30 in Paris
    assert quiet_hours_defer_until(profile, late) == datetime(
        2026, 12, 5, 8, 0, tzinfo=UTC
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("quiet_hours")
def test_quiet_hours_phoenix_has_no_daylight_saving():
    profile = ProfileFactory(time_zone="America/Phoenix")
    due = datetime(2026, 7, 15, 15, 30, tzinfo=UTC)
    assert quiet_hours_defer_until(profile, due) == datetime(
        2026, 7, 15, 16, 0, tzinfo=UTC
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("quiet_hours")
def test_quiet_hours_evening_defers_to_next_morning():
    profile = ProfileFactory(time_zone="America/Los_Angeles")
    due = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)  # 22:00 on 4 Dec in LA
    assert quiet_hours_defer_until(profile, due) == datetime(
        2026, 12, 5, 17, 0, tzinfo=UTC
    )


@pytest.mark.django_db
def test_quiet_hours_unset_never_defers():
    profile = ProfileFactory(time_zone="Asia/Tokyo")
    assert quiet_hours_defer_until(profile, DUE) is None


def test_parse_clock_rejects_bad_text():
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("9pm")
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock("25:00")


@pytest.mark.django_db
def test_frequency_cap_counts_sent_messages_in_period(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "FREQUENCY_CAPS": {"email": (3, timedelta(days=7))},
    }
    profile = ProfileFactory(email="cap@example.com")
    template = MessageTemplate.objects.create(
        name="News", slug="news", channel="email", subject="News", body="<p>Hi</p>"
    )
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    for day in (1, 2, 8):
        Delivery.objects.create(
            profile=profile,
            channel="email",
            template=template,
            dedupe_key=f"cap-{day}",
            status=Delivery.Status.SENT,
            sent_at=now - timedelta(days=day),
        )
    assert not frequency_cap_reached(profile, "email", now)
    Delivery.objects.create(
        profile=profile,
        channel="email",
        template=template,
        dedupe_key="cap-failed",
        status=Delivery.Status.FAILED,
        sent_at=None,
    )
    assert not frequency_cap_reached(profile, "email", now)
    Delivery.objects.create(
        profile=profile,
        channel="email",
        template=template,
        dedupe_key="cap-3",
        status=Delivery.Status.SENT,
        sent_at=now - timedelta(hours=1),
    )
    assert frequency_cap_reached(profile, "email", now)
    assert not frequency_cap_reached(profile, "sms", now)
