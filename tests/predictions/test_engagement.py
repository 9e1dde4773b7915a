import datetime
import random
import zoneinfo

import pytest

from omnichannel.predictions import loading, services
from omnichannel.predictions.models import CustomerPrediction
from omnichannel.profiles.models import Event, Profile

from .conftest import add_orders, at_noon

pytestmark = pytest.mark.django_db

NOW = at_noon("2024-06-30")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SATURDAY_14 = 5 * 24 + 14


def engage(profile, moments, *, name="message_opened", channel="email", prefix="m"):
    Event.objects.bulk_create(
        Event(
            profile=profile,
            name=name,
            occurred_at=moment,
            properties={"channel": channel} if channel else {},
            object_type="delivery",
            object_id=f"{prefix}{profile.pk}-{index}",
        )
        for index, moment in enumerate(moments)
    )


def saturdays(count, hour, zone):
    first = datetime.date(2024, 6, 29)
    return [
        datetime.datetime.combine(
            first - datetime.timedelta(weeks=week), datetime.time(hour, 20), tzinfo=zone
        )
        for week in range(count)
    ]


def mondays(count, hour, zone):
    first = datetime.date(2024, 6, 24)
    return [
        datetime.datetime.combine(
            first - datetime.timedelta(weeks=week), datetime.time(hour, 5), tzinfo=zone
        )
        for week in range(count)
    ]


def crowd_reading_monday_morning(size=40):
    """Customers who all share one habit: mostly Monday 09:00, sometimes later.

    Each open is an independent draw from the same shop-wide pattern, so the data
    support a strong prior (customers do not differ).
    """
    rng = random.Random(4)
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    habits = [(0, 9)] * 6 + [(1, 20)] * 3 + [(2, 12)]
    readers = []
    for _ in range(size):
        profile = Profile.objects.create()
        moments = []
        for week in range(6):
            weekday, hour = rng.choice(habits)
            day = datetime.date(2024, 6, 24) + datetime.timedelta(
                days=weekday, weeks=-week - 1
            )
            moments.append(
                datetime.datetime.combine(day, datetime.time(hour, 5), tzinfo=berlin)
            )
        engage(profile, moments)
        readers.append(profile)
    return readers


def test_send_time_local_hour_in_profile_zone():
    crowd_reading_monday_morning()
    habit = Profile.objects.create(time_zone="America/New_York")
    engage(habit, saturdays(30, 14, NEW_YORK))
    services.score_profiles(now=NOW)
    row = CustomerPrediction.objects.get(profile=habit)
    assert row.best_send_hour_of_week == SATURDAY_14
    assert row.best_send_hour_of_day == 14
    assert row.send_time_events == 30


def test_send_time_thin_history_follows_shop():
    crowd_reading_monday_morning()
    newcomer = Profile.objects.create()
    engage(newcomer, saturdays(1, 14, zoneinfo.ZoneInfo("Europe/Berlin")))
    services.score_profiles(now=NOW)
    row = CustomerPrediction.objects.get(profile=newcomer)
    assert row.best_send_hour_of_week == 9
    assert row.send_time_events == 1


def test_send_time_buyer_without_engagement_gets_shop_hour():
    crowd_reading_monday_morning()
    buyer = Profile.objects.create()
    add_orders(buyer, [("2024-06-01", 10)])
    services.score_profiles(now=NOW)
    row = CustomerPrediction.objects.get(profile=buyer)
    assert row.best_send_hour_of_week == 9
    assert row.best_send_hour_of_day == 9
    assert row.send_time_events == 0


def test_send_time_unknown_zone_falls_back(caplog):
    crowd_reading_monday_morning()
    odd = Profile.objects.create(time_zone="Mars/Olympus")
    engage(odd, saturdays(30, 14, zoneinfo.ZoneInfo("Europe/Berlin")))
    with caplog.at_level("WARNING", logger="omnichannel.predictions.loading"):
        services.score_profiles(now=NOW)
    assert CustomerPrediction.objects.get(profile=odd).best_send_hour_of_week == (
        SATURDAY_14
    )
    assert "Mars/Olympus" in caplog.text


def test_send_time_ignores_events_before_window():
    crowd_reading_monday_morning()
    old = Profile.objects.create()
    engage(old, [at_noon("2020-01-04")] * 20)
    services.score_profiles(now=NOW)
    assert not CustomerPrediction.objects.filter(profile=old).exists()


def test_channel_affinity_prefers_engaged_channel():
    crowd = crowd_reading_monday_morning()
    for profile in crowd:
        engage(
            profile,
            mondays(6, 9, NEW_YORK),
            name="message_sent",
            channel="sms",
            prefix="s",
        )
        engage(profile, mondays(6, 9, NEW_YORK), name="message_sent", prefix="m")
    texter = Profile.objects.create()
    moments = mondays(12, 10, NEW_YORK)
    engage(texter, moments, name="message_sent", channel="sms", prefix="t")
    engage(texter, moments, name="message_clicked", channel="sms", prefix="t")
    engage(texter, moments, name="message_sent", channel="email", prefix="e")

    services.score_profiles(now=NOW)

    row = CustomerPrediction.objects.get(profile=texter)
    assert set(row.channel_affinity) == {"email", "sms"}
    assert row.preferred_channel == "sms"
    assert row.channel_affinity["sms"] > 0.5
    assert row.channel_affinity["email"] < 0.5
    reader = CustomerPrediction.objects.get(profile=crowd[0])
    assert reader.preferred_channel == "email"


def test_message_counts_distinct_messages():
    profile = Profile.objects.create()
    moment = at_noon("2024-06-01")
    for name in (
        "message_sent",
        "message_delivered",
        "message_opened",
        "message_opened",
        "message_clicked",
    ):
        Event.objects.create(
            profile=profile,
            name=name,
            occurred_at=moment,
            properties={"channel": "email"},
            object_type="delivery",
            object_id="d1",
        )
    Event.objects.create(
        profile=profile, name="message_opened", occurred_at=moment, properties={}
    )
    counts = loading.load_message_counts(
        profile_range=None, since=at_noon("2024-01-01")
    )
    assert counts.channels == ("email",)
    assert counts.sent.tolist() == [[1.0]]
    assert counts.engaged.tolist() == [[1.0]]


def test_zone_groups_default_and_unknown():
    groups = loading.zone_groups([(1, ""), (2, "Asia/Tokyo"), (3, "Nowhere/Land")])
    assert groups["Europe/Berlin"] == [1, 3]
    assert groups["Asia/Tokyo"] == [2]
