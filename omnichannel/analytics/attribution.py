"""Last-click attribution of orders to the messages that led to them.

An order is attributed to the latest click (a ``message_clicked`` event by default)
of the same profile at or before the order and no longer ago than the window. An
order without such a click is unattributed. Each order goes to one click at most,
and one click may win several orders. Cancelled and refunded orders are left out.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from omnichannel.conf import app_settings
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import counted_orders

CLICK_EVENTS = ("message_clicked",)
TOUCH_PROPERTIES = (
    "journey_id",
    "step_key",
    "delivery_id",
    "channel",
    "experiment_id",
    "variant",
)


@dataclass(frozen=True)
class Touch:
    """A click that may win an order, with the message it came from."""

    event_id: int
    occurred_at: datetime
    journey_id: int | None = None
    step_key: str = ""
    delivery_id: int | None = None
    channel: str = ""
    experiment_id: int | None = None
    variant: str = ""


@dataclass(frozen=True)
class AttributedOrder:
    """An order and the click it is attributed to (``touch`` None: no click)."""

    event_id: int
    profile_id: int
    occurred_at: datetime
    revenue: Decimal
    currency: str
    touch: Touch | None

    @property
    def journey_id(self) -> int | None:
        return self.touch.journey_id if self.touch else None

    @property
    def lag(self) -> timedelta | None:
        return self.occurred_at - self.touch.occurred_at if self.touch else None


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def touch_from_event(
    event_id: int, occurred_at: datetime, properties: dict[str, Any]
) -> Touch:
    """Build a Touch from a click event's id, time and properties."""
    return Touch(
        event_id=event_id,
        occurred_at=occurred_at,
        journey_id=_as_int(properties.get("journey_id")),
        step_key=str(properties.get("step_key") or ""),
        delivery_id=_as_int(properties.get("delivery_id")),
        channel=str(properties.get("channel") or ""),
        experiment_id=_as_int(properties.get("experiment_id")),
        variant=str(properties.get("variant") or ""),
    )


def attribution_window() -> timedelta:
    """Return the ``ATTRIBUTION_WINDOW`` setting."""
    return app_settings.ATTRIBUTION_WINDOW


def load_touches(
    start: datetime,
    end: datetime,
    *,
    profile_ids: Iterable[int] | QuerySet[Any] | None = None,
    names: Sequence[str] = CLICK_EVENTS,
) -> dict[int, list[Touch]]:
    """Return the clicks in [start, end) per profile, oldest first.

    ``profile_ids`` limits them to some profiles: ids, or a queryset of them.
    """
    clicks = Event.objects.filter(
        name__in=list(names), occurred_at__gte=start, occurred_at__lt=end
    )
    if isinstance(profile_ids, QuerySet):
        clicks = clicks.filter(profile_id__in=profile_ids)
    elif profile_ids is not None:
        clicks = clicks.filter(profile_id__in=list(profile_ids))
    touches: dict[int, list[Touch]] = defaultdict(list)
    rows = clicks.order_by("profile_id", "occurred_at", "id").values_list(
        "id", "profile_id", "occurred_at", "properties"
    )
    # Every touch is kept in memory anyway, so the rows are fetched at once: outside a
    # transaction, iterator() would hold a server-side cursor that PostgreSQL
    # copies in full at commit.
    for event_id, profile_id, occurred_at, properties in rows:
        touches[profile_id].append(
            touch_from_event(event_id, occurred_at, properties or {})
        )
    return touches


def last_touch(
    touches: Sequence[Touch], at: datetime, window: timedelta
) -> Touch | None:
    """Return the latest touch at or before ``at`` and within ``window`` of it."""
    times = [touch.occurred_at for touch in touches]
    index = bisect.bisect_right(times, at)
    if index == 0:
        return None
    candidate = touches[index - 1]
    return candidate if at - candidate.occurred_at <= window else None


def attribute_orders(
    start: datetime,
    end: datetime,
    *,
    window: timedelta | None = None,
    touch_names: Sequence[str] = CLICK_EVENTS,
    profile_ids: Iterable[int] | None = None,
) -> list[AttributedOrder]:
    """Attribute each order placed in [start, end) to its last click in the window."""
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start}).")
    window = attribution_window() if window is None else window
    if window <= timedelta():
        raise ValueError(f"The attribution window must be positive, got {window}.")

    orders = counted_orders().filter(occurred_at__gte=start, occurred_at__lt=end)
    if profile_ids is not None:
        profile_ids = list(profile_ids)
        orders = orders.filter(profile_id__in=profile_ids)
    rows = list(
        orders.order_by("occurred_at", "id").values_list(
            "id", "profile_id", "occurred_at", "revenue", "currency"
        )
    )
    # Only the clicks of profiles that ordered in the period can win an order. A
    # subquery names them, because a list of ids as parameters costs more to send
    # and plan than the clicks cost to read.
    clickers = orders.values("profile_id") if profile_ids is None else profile_ids
    # A click up to one window before the first order can still win it.
    touches = load_touches(start - window, end, profile_ids=clickers, names=touch_names)
    result = []
    for event_id, profile_id, occurred_at, revenue, currency in rows:
        touch = last_touch(touches.get(profile_id, ()), occurred_at, window)
        result.append(
            AttributedOrder(
                event_id=event_id,
                profile_id=profile_id,
                occurred_at=occurred_at,
                revenue=revenue or Decimal("0"),
                currency=currency,
                touch=touch,
            )
        )
    return result


def revenue_by_journey(orders: Iterable[AttributedOrder]) -> list[dict[str, Any]]:
    """Sum attributed orders and revenue per journey and step, largest first."""
    totals: dict[tuple[int | None, str], dict[str, Any]] = {}
    for order in orders:
        if order.touch is None:
            continue
        key = (order.touch.journey_id, order.touch.step_key)
        row = totals.setdefault(
            key,
            {
                "journey_id": key[0],
                "step_key": key[1],
                "orders": 0,
                "customers": set(),
                "revenue": Decimal("0"),
            },
        )
        row["orders"] += 1
        row["customers"].add(order.profile_id)
        row["revenue"] += order.revenue
    rows = []
    for row in totals.values():
        row["customers"] = len(row["customers"])
        rows.append(row)
    rows.sort(key=lambda row: (-row["revenue"], str(row["journey_id"])))
    return rows
