"""Abandoned-cart recovery: how many abandoned carts became orders.

A cart is abandoned by a ``cart_abandoned`` event (``object_type`` "cart",
``object_id`` the cart's id). It is recovered when, within the recovery window
after the abandonment, a ``cart_converted`` event names the same cart or the same
profile places an order that is not cancelled or refunded. A recovered cart counts
as recovered by a message when that order's last click within the attribution
window came from a message.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from omnichannel.analytics.attribution import attribute_orders
from omnichannel.conf import app_settings
from omnichannel.db import stream
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import counted_orders


@dataclass
class _Cart:
    key: str
    profile_id: int
    abandoned_at: datetime
    recovered_at: datetime | None = None
    revenue: Decimal = Decimal("0")
    order_event_id: int | None = None
    by_message: bool = False


def week_start(moment: datetime) -> datetime:
    """Return Monday 00:00 of the week of ``moment``, in the current time zone."""
    local = timezone.localtime(moment)
    monday = local - timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def _abandoned_carts(start: datetime, end: datetime) -> list[_Cart]:
    rows = (
        Event.objects.filter(
            name="cart_abandoned", occurred_at__gte=start, occurred_at__lt=end
        )
        .order_by("occurred_at", "id")
        .values_list("id", "profile_id", "object_id", "occurred_at")
    )
    carts: dict[str, _Cart] = {}
    for event_id, profile_id, object_id, occurred_at in stream(rows, 5000):
        # A cart abandoned twice counts once, from its first abandonment.
        key = object_id or f"event-{event_id}"
        carts.setdefault(key, _Cart(key, profile_id, occurred_at))
    return list(carts.values())


def cart_recovery(
    start: datetime,
    end: datetime,
    *,
    window: timedelta | None = None,
    attribution_window: timedelta | None = None,
) -> dict[str, Any]:
    """Return the recovery summary of carts abandoned in [start, end) and a weekly
    series under ``weeks``."""
    window = app_settings.CART_RECOVERY_WINDOW if window is None else window
    if window <= timedelta():
        raise ValueError(f"The recovery window must be positive, got {window}.")
    carts = _abandoned_carts(start, end)
    profile_ids = {cart.profile_id for cart in carts}

    conversions: dict[str, datetime] = {}
    if carts:
        converted = (
            Event.objects.filter(
                name="cart_converted",
                object_id__in=[cart.key for cart in carts],
                occurred_at__gte=start,
                occurred_at__lte=end + window,
            )
            .order_by("occurred_at")
            .values_list("object_id", "occurred_at")
        )
        for object_id, occurred_at in converted:
            conversions.setdefault(object_id, occurred_at)

    attributed = (
        {
            order.event_id: order
            for order in attribute_orders(
                start, end + window, window=attribution_window, profile_ids=profile_ids
            )
        }
        if carts
        else {}
    )
    orders: dict[int, list[tuple[datetime, int, Decimal]]] = defaultdict(list)
    if carts:
        rows = (
            counted_orders()
            .filter(
                profile_id__in=profile_ids,
                occurred_at__gte=start,
                occurred_at__lte=end + window,
            )
            .order_by("occurred_at", "id")
            .values_list("profile_id", "occurred_at", "id", "revenue")
        )
        for profile_id, occurred_at, event_id, revenue in rows:
            orders[profile_id].append((occurred_at, event_id, revenue or Decimal("0")))

    for cart in carts:
        _match_order(cart, orders.get(cart.profile_id, []), window)
        converted_at = conversions.get(cart.key)
        if (
            converted_at is not None
            and cart.abandoned_at <= converted_at <= cart.abandoned_at + window
        ):
            if cart.recovered_at is None or converted_at < cart.recovered_at:
                cart.recovered_at = converted_at
        order = attributed.get(cart.order_event_id) if cart.order_event_id else None
        cart.by_message = order is not None and order.touch is not None
    return _summarise(carts)


def _match_order(
    cart: _Cart, placed: list[tuple[datetime, int, Decimal]], window: timedelta
) -> None:
    times = [at for at, _, _ in placed]
    index = bisect.bisect_right(times, cart.abandoned_at)
    if index < len(placed) and placed[index][0] <= cart.abandoned_at + window:
        cart.recovered_at, cart.order_event_id, cart.revenue = placed[index]


def _summarise(carts: list[_Cart]) -> dict[str, Any]:
    weeks: dict[datetime, dict[str, Any]] = {}
    for cart in carts:
        week = weeks.setdefault(
            week_start(cart.abandoned_at),
            {"abandoned": 0, "recovered": 0, "by_message": 0, "revenue": Decimal("0")},
        )
        week["abandoned"] += 1
        if cart.recovered_at is not None:
            week["recovered"] += 1
            week["revenue"] += cart.revenue
            week["by_message"] += cart.by_message
    series = []
    for start_of_week in sorted(weeks):
        week = weeks[start_of_week]
        series.append(
            {
                "week": start_of_week.date(),
                **week,
                "recovery_rate": week["recovered"] / week["abandoned"],
            }
        )
    abandoned = len(carts)
    recovered = sum(1 for cart in carts if cart.recovered_at is not None)
    by_message = sum(1 for cart in carts if cart.by_message)
    return {
        "abandoned": abandoned,
        "recovered": recovered,
        "recovery_rate": recovered / abandoned if abandoned else None,
        "recovered_by_message": by_message,
        "message_recovery_rate": by_message / abandoned if abandoned else None,
        "recovered_revenue": sum(
            (c.revenue for c in carts if c.recovered_at is not None), Decimal("0")
        ),
        "weeks": series,
    }
