"""Last-click attribution on a hand-built timeline whose answer is worked out here."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from omnichannel.analytics.attribution import attribute_orders, revenue_by_journey
from omnichannel.profiles.models import Event
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
D1 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
WINDOW = timedelta(days=3)


def at(day, hour, minute=0):
    return D1 + timedelta(days=day - 1, hours=hour, minutes=minute)


def click(profile, when, journey_id=None, step_key="", delivery_id=None):
    properties = {"channel": "email"}
    if journey_id is not None:
        properties.update(
            journey_id=journey_id, step_key=step_key, delivery_id=delivery_id
        )
    return Event.objects.create(
        profile=profile, name="message_clicked", occurred_at=when, properties=properties
    )


def order(profile, when, revenue, order_id):
    return Event.objects.create(
        profile=profile,
        name="order_placed",
        occurred_at=when,
        revenue=Decimal(revenue),
        currency="EUR",
        object_type="order",
        object_id=order_id,
    )


@pytest.fixture
def timeline():
    ana, ben, cai, dee = (ProfileFactory() for _ in range(4))
    first_click = click(ana, at(1, 10), 1, "email-1", 11)
    o1 = order(ana, at(1, 12), "40.00", "O1")  # 2 h after the J1 click
    second_click = click(ana, at(2, 9), 2, "sms-1", 12)
    o2 = order(ana, at(2, 9), "25.00", "O2")  # same instant as the J2 click
    o3 = order(ana, at(6, 9), "60.00", "O3")  # 4 days after the last click
    click(ana, at(7, 8), 1, "email-2", 13)
    o4 = order(ana, at(7, 7, 59), "10.00", "O4")  # one minute before a click
    click(ben, at(1, 9), 1, "email-1", 14)
    campaign_click = click(ben, at(1, 9, 30))  # a campaign without a journey
    o5 = order(ben, at(1, 10), "15.00", "O5")
    order(ben, at(3, 12), "80.00", "O6")
    Event.objects.create(
        profile=ben,
        name="order_cancelled",
        occurred_at=at(3, 13),
        object_type="order",
        object_id="O6",
    )
    o7 = order(cai, at(2, 15), "33.00", "O7")  # never clicked anything
    early_click = click(dee, D1 - timedelta(hours=1), 1, "email-1", 15)
    o8 = order(dee, at(1, 1), "30.00", "O8")  # its click is before the period
    return {
        "orders": {o.object_id: o for o in (o1, o2, o3, o4, o5, o7, o8)},
        "clicks": {
            "first": first_click,
            "second": second_click,
            "campaign": campaign_click,
            "early": early_click,
        },
    }


def test_attribution_hand_built_timeline(timeline):
    result = attribute_orders(D1, at(8, 0), window=WINDOW)
    by_order = {Event.objects.get(pk=o.event_id).object_id: o for o in result}
    clicks = timeline["clicks"]

    assert set(by_order) == {"O1", "O2", "O3", "O4", "O5", "O7", "O8"}  # O6 cancelled
    assert by_order["O1"].touch.event_id == clicks["first"].pk
    assert by_order["O1"].lag == timedelta(hours=2)
    assert by_order["O2"].touch.event_id == clicks["second"].pk
    assert by_order["O2"].journey_id == 2
    assert by_order["O3"].touch is None
    assert by_order["O4"].touch is None
    assert by_order["O5"].touch.event_id == clicks["campaign"].pk
    assert by_order["O5"].journey_id is None
    assert by_order["O7"].touch is None
    assert by_order["O8"].touch.event_id == clicks["early"].pk
    assert by_order["O8"].touch.delivery_id == 15


def test_attribution_revenue_by_journey(timeline):
    rows = revenue_by_journey(attribute_orders(D1, at(8, 0), window=WINDOW))
    by_key = {(row["journey_id"], row["step_key"]): row for row in rows}

    assert set(by_key) == {(1, "email-1"), (2, "sms-1"), (None, "")}
    assert by_key[(1, "email-1")]["revenue"] == Decimal("70.00")
    assert by_key[(1, "email-1")]["orders"] == 2
    assert by_key[(1, "email-1")]["customers"] == 2
    assert by_key[(2, "sms-1")]["revenue"] == Decimal("25.00")
    assert by_key[(None, "")]["revenue"] == Decimal("15.00")
    assert rows[0]["journey_id"] == 1


def test_attribution_longer_window_wins_o3(timeline):
    result = attribute_orders(D1, at(8, 0), window=timedelta(days=5))
    o3 = next(o for o in result if o.event_id == timeline["orders"]["O3"].pk)

    assert o3.touch.event_id == timeline["clicks"]["second"].pk


def test_attribution_exact_window_edge_counts():
    profile = ProfileFactory()
    start_click = click(profile, at(1, 0), 9, "s")
    edge = order(profile, at(1, 0) + WINDOW, "5.00", "EDGE")

    result = attribute_orders(D1, at(8, 0), window=WINDOW)

    assert [(o.event_id, o.touch.event_id) for o in result] == [
        (edge.pk, start_click.pk)
    ]


def test_attribution_bad_window_rejected():
    with pytest.raises(ValueError, match="positive"):
        attribute_orders(D1, at(2, 0), window=timedelta())


def test_attribution_bad_range_rejected():
    with pytest.raises(ValueError, match="after start"):
        attribute_orders(at(2, 0), D1)
