from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from scipy import stats as scipy_stats

from omnichannel.analytics.journeys import (
    journey_funnel,
    journey_ids,
    journey_lift,
    journey_overview,
    journey_steps,
)
from omnichannel.profiles.models import Event
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
START = datetime(2026, 11, 2, tzinfo=UTC)
END = START + timedelta(days=14)
JOURNEY = 7


def event(profile, name, when, **properties):
    return Event.objects.create(
        profile=profile, name=name, occurred_at=when, properties=properties
    )


def order(profile, when, revenue):
    return Event.objects.create(
        profile=profile,
        name="order_placed",
        occurred_at=when,
        revenue=Decimal(revenue),
        object_type="order",
        object_id=f"o-{profile.pk}-{when:%d%H}",
    )


def send(profile, step, when, *names):
    for offset, name in enumerate(("message_sent", *names)):
        event(
            profile,
            name,
            when + timedelta(minutes=offset),
            journey_id=JOURNEY,
            step_key=step,
            channel="email",
        )


@pytest.fixture
def journey():
    """Four treated entrants, two held out.

    t1: email-1 delivered, opened, clicked; orders 2 h later (attributed, converts).
    t2: email-1 delivered; then sms-1 delivered and clicked; orders (attributed).
    t3: email-1 delivered, opened; no order.
    t4: email-1 sent only; orders 3 days later with no click (converts, unattributed).
    h1: holdout; orders 1 day after entry (converts).
    h2: holdout; no order.
    """
    t1, t2, t3, t4, h1, h2 = (ProfileFactory() for _ in range(6))
    day = START + timedelta(days=1)
    for profile in (t1, t2, t3, t4):
        event(profile, "journey_entered", day, journey_id=JOURNEY, holdout=False)
    for profile in (h1, h2):
        event(profile, "journey_entered", day, journey_id=JOURNEY, holdout=True)
    send(
        t1,
        "email-1",
        day + timedelta(hours=1),
        "message_delivered",
        "message_opened",
        "message_clicked",
    )
    order(t1, day + timedelta(hours=3), "40.00")
    send(t2, "email-1", day + timedelta(hours=1), "message_delivered")
    send(t2, "sms-1", day + timedelta(days=1), "message_delivered", "message_clicked")
    order(t2, day + timedelta(days=1, hours=1), "60.00")
    send(t3, "email-1", day + timedelta(hours=1), "message_delivered", "message_opened")
    send(t4, "email-1", day + timedelta(hours=1))
    order(t4, day + timedelta(days=3), "20.00")
    order(h1, day + timedelta(days=1), "30.00")
    return {"t1": t1, "t2": t2, "h1": h1}


def test_journey_steps_counts(journey):
    steps = journey_steps(JOURNEY, START, END)
    by_key = {step["step_key"]: step for step in steps}

    assert [step["step_key"] for step in steps] == ["email-1", "sms-1"]
    email = by_key["email-1"]
    assert (email["sent"], email["delivered"], email["opened"], email["clicked"]) == (
        4,
        3,
        2,
        1,
    )
    assert email["orders"] == 1
    assert email["revenue"] == Decimal("40.00")
    assert email["open_rate"] == pytest.approx(2 / 3)
    assert by_key["sms-1"]["revenue"] == Decimal("60.00")


def test_journey_steps_given_order(journey):
    steps = journey_steps(JOURNEY, START, END, step_order=["sms-1", "email-1"])

    assert [step["step_key"] for step in steps] == ["sms-1", "email-1"]


def test_journey_funnel_stages(journey):
    funnel = journey_funnel(JOURNEY, START, END)

    assert [(row["stage"], row["profiles"]) for row in funnel] == [
        ("entered", 6),
        ("sent: email-1", 4),
        ("sent: sms-1", 1),
        ("clicked", 2),
        ("converted", 2),
    ]
    assert funnel[1]["share"] == pytest.approx(4 / 6)
    assert funnel[2]["step_share"] == pytest.approx(1 / 4)


def test_journey_lift_against_holdout(journey):
    lift = journey_lift(JOURNEY, START, END, window=timedelta(days=7))
    _, p_value, _, _ = scipy_stats.chi2_contingency([[1, 1], [3, 1]], correction=False)

    assert (lift["treated_entrants"], lift["treated_converted"]) == (4, 3)
    assert (lift["holdout_entrants"], lift["holdout_converted"]) == (2, 1)
    assert lift["treated_revenue"] == Decimal("120.00")
    assert lift["absolute_lift"] == pytest.approx(0.75 - 0.5)
    assert lift["relative_lift"] == pytest.approx(0.5)
    assert lift["p_value"] == pytest.approx(p_value)
    assert lift["incremental_conversions"] == pytest.approx(1.0)
    # 120 / 4 - 30 / 2 = 15 per treated entrant, times 4.
    assert lift["incremental_revenue"] == Decimal("60.00")


def test_journey_lift_short_window_excludes_late_order(journey):
    lift = journey_lift(JOURNEY, START, END, window=timedelta(days=2))

    assert lift["treated_converted"] == 2


def test_journey_lift_without_holdout_notes():
    profile = ProfileFactory()
    event(profile, "journey_entered", START, journey_id=3)

    lift = journey_lift(3, START, END)

    assert lift["p_value"] is None
    assert lift["note"]


def test_journey_ids_and_overview(journey):
    Event.objects.create(
        profile=journey["t1"],
        name="journey_entered",
        occurred_at=START,
        properties={"journey_id": "12"},
    )

    assert journey_ids(START, END) == [JOURNEY, 12]
    rows = {row["journey_id"]: row for row in journey_overview(START, END)}
    assert rows[JOURNEY]["entrants"] == 6
    assert rows[JOURNEY]["attributed_revenue"] == Decimal("100.00")
    assert rows[12]["entrants"] == 1
