from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from omnichannel.analytics.lifecycle import (
    STAGES,
    Transition,
    combine_channels,
    lifecycle_map,
    stage_of_event,
    stage_summary,
    transitions,
)
from omnichannel.profiles.models import Event
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=BERLIN)
DROP = timedelta(days=30)
LAPSE = timedelta(days=180)


def day(n, hour=9):
    return MONDAY.replace(hour=hour) + timedelta(days=n)


def test_stage_of_event_rules():
    assert stage_of_event("page_viewed") == "discovery"
    assert stage_of_event("product_viewed") == "interest"
    assert stage_of_event("checkout_started") == "consideration"
    assert stage_of_event("order_placed", 1) == "purchase"
    assert stage_of_event("order_placed", 2) == "retention"
    assert stage_of_event("order_placed", 0) is None
    assert stage_of_event("message_sent") is None


def test_transitions_move_drop_and_return():
    activity = [
        (day(0), "discovery"),
        (day(1), "interest"),
        (day(2), "discovery"),  # never moves down
        (day(40), "interest"),  # 38 quiet days: dropped at day 32, back now
        (day(41), "purchase"),
    ]

    result = transitions(
        activity, drop_off_after=DROP, lapse_after=LAPSE, until=day(100)
    )

    assert result == [
        Transition(day(0), "enter", "discovery"),
        Transition(day(1), "move", "discovery", "interest"),
        Transition(day(2) + DROP, "drop", "interest"),
        Transition(day(40), "enter", "interest"),
        Transition(day(41), "move", "interest", "purchase"),
    ]


def test_transitions_buyer_lapses_later():
    activity = [(day(0), "purchase")]

    early = transitions(
        activity, drop_off_after=DROP, lapse_after=LAPSE, until=day(100)
    )
    late = transitions(activity, drop_off_after=DROP, lapse_after=LAPSE, until=day(200))

    assert early == [Transition(day(0), "enter", "purchase")]
    assert late[-1] == Transition(day(0) + LAPSE, "drop", "purchase")


def event(profile, name, when, source="web", **properties):
    extra = {}
    if name == "order_placed":
        extra = {
            "revenue": Decimal("20.00"),
            "object_type": "order",
            "object_id": f"o-{profile.pk}-{when:%m%d}",
        }
    return Event.objects.create(
        profile=profile,
        name=name,
        occurred_at=when,
        source=source,
        properties=properties,
        **extra,
    )


@pytest.fixture
def customers():
    """Ada arrives by email and buys in her first week. Bo arrives from the shop
    (source pos) and is never seen again: he drops off 30 days later. Cy was
    interested before the period and adds to cart in week 2.
    """
    ada, bo, cy = (ProfileFactory() for _ in range(3))
    event(ada, "page_viewed", day(0), utm_medium="email")
    event(ada, "product_viewed", day(1))
    event(ada, "message_sent", day(1, 10))  # passive: ignored
    event(ada, "cart_updated", day(2))
    event(ada, "order_placed", day(3))
    event(bo, "page_viewed", day(0), source="pos")
    event(cy, "product_viewed", day(-3), utm_medium="email")
    event(cy, "cart_updated", day(8))
    return ada, bo, cy


def rows_by_key(rows):
    return {(row["week"], row["channel"], row["stage"]): row for row in rows}


def test_lifecycle_map_weeks(customers):
    rows = lifecycle_map(day(0), day(42), drop_off_after=DROP, lapse_after=LAPSE)
    table = rows_by_key(rows)
    week1, week2 = day(0).date(), day(7).date()

    email_discovery = table[(week1, "email", "discovery")]
    assert (email_discovery["entered"], email_discovery["moved_on"]) == (1, 1)
    email_interest = table[(week1, "email", "interest")]
    assert email_interest["at_start"] == 1  # Cy, from the week before
    assert (email_interest["entered"], email_interest["moved_on"]) == (1, 1)
    assert email_interest["at_end"] == 1
    assert table[(week1, "email", "purchase")]["at_end"] == 1
    week2_interest = table[(week2, "email", "interest")]
    assert (week2_interest["moved_on"], week2_interest["at_end"]) == (1, 0)
    assert table[(week2, "email", "consideration")]["entered"] == 1


def test_lifecycle_map_drop_off_week(customers):
    rows = lifecycle_map(day(0), day(42), drop_off_after=DROP, lapse_after=LAPSE)
    pos_discovery = [
        r for r in rows if r["channel"] == "pos" and r["stage"] == "discovery"
    ]
    dropped = {r["week"]: r["dropped_off"] for r in pos_discovery if r["dropped_off"]}

    # Seen on day 0, dropped on day 30, in the week starting on day 28.
    assert dropped == {day(28).date(): 1}


def test_lifecycle_map_rows_balance(customers):
    # The end is Monday 00:00 of the seventh week, so six whole weeks.
    end = day(42, hour=0)
    rows = lifecycle_map(day(0), end, drop_off_after=DROP, lapse_after=LAPSE)

    for row in rows:
        assert row["at_end"] == (
            row["at_start"] + row["entered"] - row["moved_on"] - row["dropped_off"]
        )
        assert row["at_end"] >= 0
    weeks = sorted({row["week"] for row in rows})
    assert len(weeks) == 6
    assert weeks[0] == day(0).date()


def test_lifecycle_combine_and_summary(customers):
    rows = lifecycle_map(day(0), day(42), drop_off_after=DROP, lapse_after=LAPSE)
    combined = combine_channels(rows)
    summary = {(r["channel"], r["stage"]): r for r in stage_summary(rows)}

    first_week = [r for r in combined if r["week"] == day(0).date()]
    assert [r["stage"] for r in first_week] == list(STAGES)
    assert sum(r["at_end"] for r in first_week) == 3
    assert summary[("pos", "discovery")]["drop_off_rate"] == 1.0
    assert summary[("email", "discovery")]["move_on_rate"] == 1.0


def test_lifecycle_map_bad_range_rejected():
    with pytest.raises(ValueError, match="after start"):
        lifecycle_map(day(5), day(1))
