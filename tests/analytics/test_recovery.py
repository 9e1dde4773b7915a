from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from omnichannel.analytics.recovery import cart_recovery
from omnichannel.profiles.models import Event
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
END = START + timedelta(days=7)
WINDOW = timedelta(days=7)


def event(profile, name, when, object_id="", revenue=None, **properties):
    return Event.objects.create(
        profile=profile,
        name=name,
        occurred_at=when,
        object_type="cart" if name.startswith("cart") else "order",
        object_id=object_id,
        revenue=revenue,
        properties=properties,
    )


@pytest.fixture
def carts():
    """Four carts abandoned on day 1.

    c1: abandoned twice; journey email clicked, order on day 2: recovered by message.
    c2: cart_converted on day 3, its order not tracked: recovered, no revenue.
    c3: order on day 10, after the 7-day window: not recovered.
    c4: order only before the abandonment: not recovered.
    """
    p1, p2, p3, p4 = (ProfileFactory() for _ in range(4))
    day1 = START + timedelta(hours=10)
    event(p1, "cart_abandoned", day1, "c1")
    event(p1, "cart_abandoned", day1 + timedelta(hours=5), "c1")
    event(
        p1,
        "message_clicked",
        day1 + timedelta(days=1),
        journey_id=4,
        step_key="email-1",
    )
    event(p1, "order_placed", day1 + timedelta(days=1, hours=1), "o1", Decimal("45.00"))
    event(p2, "cart_abandoned", day1, "c2")
    event(p2, "cart_converted", day1 + timedelta(days=2), "c2")
    event(p3, "cart_abandoned", day1, "c3")
    event(p3, "order_placed", day1 + timedelta(days=9), "o3", Decimal("70.00"))
    event(p4, "order_placed", day1 - timedelta(hours=1), "o4", Decimal("12.00"))
    event(p4, "cart_abandoned", day1, "c4")


def test_recovery_rates(carts):
    summary = cart_recovery(START, END, window=WINDOW)

    assert summary["abandoned"] == 4
    assert summary["recovered"] == 2
    assert summary["recovery_rate"] == 0.5
    assert summary["recovered_by_message"] == 1
    assert summary["message_recovery_rate"] == 0.25
    assert summary["recovered_revenue"] == Decimal("45.00")


def test_recovery_weekly_series(carts):
    summary = cart_recovery(START, END, window=WINDOW)

    assert summary["weeks"] == [
        {
            "week": START.date(),
            "abandoned": 4,
            "recovered": 2,
            "by_message": 1,
            "revenue": Decimal("45.00"),
            "recovery_rate": 0.5,
        }
    ]


def test_recovery_longer_window_recovers_c3(carts):
    summary = cart_recovery(START, END, window=timedelta(days=10))

    assert summary["recovered"] == 3
    assert summary["recovered_revenue"] == Decimal("115.00")


def test_recovery_no_carts():
    summary = cart_recovery(START, END)

    assert summary["abandoned"] == 0
    assert summary["recovery_rate"] is None
    assert summary["weeks"] == []


def test_recovery_bad_window_rejected():
    with pytest.raises(ValueError, match="positive"):
        cart_recovery(START, END, window=timedelta(0))
