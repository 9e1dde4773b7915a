"""Journey analytics: the funnel per step, attributed revenue and incremental lift.

A journey is known by the ``journey_id`` property of its events: ``journey_entered``
(with ``holdout: true`` for entrants held out of every message) and the message
events of its steps (with ``step_key``). Attributed orders are those whose last click
within the attribution window came from the journey (see ``attribution``).
Incremental lift compares all entrants with the holdout group, whatever they
clicked: orders within the conversion window after entry count for both.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, Q

from omnichannel.analytics.attribution import AttributedOrder, attribute_orders
from omnichannel.conf import app_settings
from omnichannel.db import stream
from omnichannel.exceptions import InsufficientData
from omnichannel.experiments import stats
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import counted_orders

MESSAGE_STEPS = (
    ("sent", "message_sent"),
    ("delivered", "message_delivered"),
    ("opened", "message_opened"),
    ("clicked", "message_clicked"),
)
ENTERED = "journey_entered"


def _journey_filter(journey_id: int) -> Q:
    # Emitters should store the id as a number; a string is accepted too.
    return Q(properties__journey_id=journey_id) | Q(
        properties__journey_id=str(journey_id)
    )


def _rate(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def journey_steps(
    journey_id: int,
    start: datetime,
    end: datetime,
    *,
    attributions: Sequence[AttributedOrder] | None = None,
    step_order: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Return one row per step: unique profiles sent, delivered, opened and clicked,
    with the orders and revenue attributed to the step.

    Steps come in ``step_order`` when given, otherwise by their first send.
    """
    names = [name for _, name in MESSAGE_STEPS]
    rows = (
        Event.objects.filter(
            _journey_filter(journey_id),
            name__in=names,
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .values("properties__step_key", "name")
        .annotate(profiles=Count("profile", distinct=True), first=Min("occurred_at"))
        .order_by()
    )
    steps: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row["properties__step_key"] or "")
        step = steps.setdefault(key, _empty_step(key))
        column = next(column for column, name in MESSAGE_STEPS if name == row["name"])
        step[column] += row["profiles"]
        if row["name"] == "message_sent":
            step["first_sent_at"] = row["first"]

    if attributions is None:
        attributions = attribute_orders(start, end)
    for order in attributions:
        if order.journey_id != journey_id:
            continue
        step = steps.setdefault(order.touch.step_key, _empty_step(order.touch.step_key))  # type: ignore[union-attr]
        step["orders"] += 1
        step["revenue"] += order.revenue

    for step in steps.values():
        step["open_rate"] = _rate(step["opened"], step["delivered"])
        step["click_rate"] = _rate(step["clicked"], step["delivered"])
    return _ordered(list(steps.values()), step_order)


def _empty_step(key: str) -> dict[str, Any]:
    return {
        "step_key": key,
        "sent": 0,
        "delivered": 0,
        "opened": 0,
        "clicked": 0,
        "orders": 0,
        "revenue": Decimal("0"),
        "first_sent_at": None,
    }


def _ordered(
    steps: list[dict[str, Any]], step_order: Sequence[str] | None
) -> list[dict[str, Any]]:
    if step_order:
        position = {key: index for index, key in enumerate(step_order)}
        return sorted(
            steps,
            key=lambda s: (position.get(s["step_key"], len(position)), s["step_key"]),
        )
    far = datetime.max.replace(tzinfo=None)
    return sorted(
        steps,
        key=lambda s: (
            s["first_sent_at"].replace(tzinfo=None) if s["first_sent_at"] else far,
            s["step_key"],
        ),
    )


def journey_funnel(
    journey_id: int,
    start: datetime,
    end: datetime,
    *,
    attributions: Sequence[AttributedOrder] | None = None,
    step_order: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Return the funnel: entered, sent each step, clicked, converted (attributed).

    Each stage counts unique profiles; ``share`` is the fraction of the entrants
    and ``step_share`` the fraction of the stage before.
    """
    if attributions is None:
        attributions = attribute_orders(start, end)
    entered = (
        Event.objects.filter(
            _journey_filter(journey_id),
            name=ENTERED,
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .values("profile")
        .distinct()
        .count()
    )
    stages: list[tuple[str, int]] = [("entered", entered)]
    for step in journey_steps(
        journey_id, start, end, attributions=attributions, step_order=step_order
    ):
        if step["sent"]:
            stages.append((f"sent: {step['step_key']}", step["sent"]))
    clicked = (
        Event.objects.filter(
            _journey_filter(journey_id),
            name="message_clicked",
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .values("profile")
        .distinct()
        .count()
    )
    converted = len(
        {order.profile_id for order in attributions if order.journey_id == journey_id}
    )
    stages += [("clicked", clicked), ("converted", converted)]

    rows = []
    previous = None
    for stage, profiles in stages:
        rows.append(
            {
                "stage": stage,
                "profiles": profiles,
                "share": _rate(profiles, entered),
                "step_share": _rate(profiles, previous)
                if previous is not None
                else None,
            }
        )
        previous = profiles
    return rows


@dataclass
class _Entry:
    profile_id: int
    entered_at: datetime
    holdout: bool


def _first_entries(journey_id: int, start: datetime, end: datetime) -> list[_Entry]:
    rows = (
        Event.objects.filter(
            _journey_filter(journey_id),
            name=ENTERED,
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .order_by("profile_id", "occurred_at", "id")
        .values_list("profile_id", "occurred_at", "properties__holdout")
    )
    entries: dict[int, _Entry] = {}
    for profile_id, occurred_at, holdout in stream(rows, 5000):
        if profile_id not in entries:
            entries[profile_id] = _Entry(
                profile_id, occurred_at, holdout in (True, "true", 1)
            )
    return list(entries.values())


def journey_lift(
    journey_id: int,
    start: datetime,
    end: datetime,
    *,
    window: timedelta | None = None,
) -> dict[str, Any]:
    """Compare entrants who got the journey with its holdout group.

    Each profile's first entry in [start, end) counts. A profile converts with an
    order (not cancelled or refunded) in the window after its entry. Returns the
    rates, absolute and relative lift, the z-test p-value and the incremental
    conversions and revenue among the treated entrants.
    """
    window = app_settings.JOURNEY_CONVERSION_WINDOW if window is None else window
    entries = _first_entries(journey_id, start, end)
    orders: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    if entries:
        rows = (
            counted_orders()
            .filter(
                profile_id__in=[entry.profile_id for entry in entries],
                occurred_at__gte=start,
                occurred_at__lte=end + window,
            )
            .order_by("occurred_at", "id")
            .values_list("profile_id", "occurred_at", "revenue")
        )
        for profile_id, occurred_at, revenue in stream(rows, 5000):
            orders[profile_id].append((occurred_at, revenue or Decimal("0")))

    arms = {
        arm: {"entrants": 0, "converted": 0, "revenue": Decimal("0")}
        for arm in ("treated", "holdout")
    }
    for entry in entries:
        arm = arms["holdout" if entry.holdout else "treated"]
        arm["entrants"] += 1
        placed = orders.get(entry.profile_id, [])
        times = [at for at, _ in placed]
        low = bisect.bisect_right(times, entry.entered_at)
        high = bisect.bisect_right(times, entry.entered_at + window)
        if high > low:
            arm["converted"] += 1
            arm["revenue"] += sum(
                (amount for _, amount in placed[low:high]), Decimal("0")
            )
    return _lift_summary(journey_id, arms)


def _lift_summary(journey_id: int, arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    treated, holdout = arms["treated"], arms["holdout"]
    result: dict[str, Any] = {
        "journey_id": journey_id,
        "treated_entrants": treated["entrants"],
        "treated_converted": treated["converted"],
        "treated_revenue": treated["revenue"],
        "holdout_entrants": holdout["entrants"],
        "holdout_converted": holdout["converted"],
        "holdout_revenue": holdout["revenue"],
        "treated_rate": _rate(treated["converted"], treated["entrants"]),
        "holdout_rate": _rate(holdout["converted"], holdout["entrants"]),
        "absolute_lift": None,
        "relative_lift": None,
        "p_value": None,
        "incremental_conversions": None,
        "incremental_revenue": None,
        "note": "",
    }
    try:
        test = stats.two_proportion_ztest(
            holdout["converted"],
            holdout["entrants"],
            treated["converted"],
            treated["entrants"],
        )
    except InsufficientData:
        result["note"] = "No holdout group or no treated entrants in this period."
        return result
    result["absolute_lift"] = test.difference
    result["relative_lift"] = test.relative_lift
    result["p_value"] = test.p_value
    result["incremental_conversions"] = test.difference * treated["entrants"]
    per_treated = treated["revenue"] / treated["entrants"]
    per_holdout = holdout["revenue"] / holdout["entrants"]
    result["incremental_revenue"] = (per_treated - per_holdout) * treated["entrants"]
    return result


def journey_ids(start: datetime, end: datetime) -> list[int]:
    """Return the ids of journeys with entries or messages in [start, end)."""
    values = (
        Event.objects.filter(
            name__in=[ENTERED, "message_sent"],
            occurred_at__gte=start,
            occurred_at__lt=end,
            properties__has_key="journey_id",
        )
        .values_list("properties__journey_id", flat=True)
        .distinct()
    )
    ids = set()
    for value in values:
        try:
            ids.add(int(value))
        except (TypeError, ValueError):
            continue
    return sorted(ids)


def journey_overview(
    start: datetime,
    end: datetime,
    *,
    attribution_window: timedelta | None = None,
    conversion_window: timedelta | None = None,
    attributions: Sequence[AttributedOrder] | None = None,
) -> list[dict[str, Any]]:
    """Return one row per journey: entrants, sends, clicks, attributed orders and
    revenue, and the lift over its holdout group."""
    if attributions is None:
        attributions = attribute_orders(start, end, window=attribution_window)
    rows = []
    for journey_id in journey_ids(start, end):
        steps = journey_steps(journey_id, start, end, attributions=attributions)
        lift = journey_lift(journey_id, start, end, window=conversion_window)
        attributed = [o for o in attributions if o.journey_id == journey_id]
        rows.append(
            {
                "journey_id": journey_id,
                "entrants": lift["treated_entrants"] + lift["holdout_entrants"],
                "holdout": lift["holdout_entrants"],
                "sent": sum(step["sent"] for step in steps),
                "clicked": sum(step["clicked"] for step in steps),
                "attributed_orders": len(attributed),
                "attributed_revenue": sum(
                    (o.revenue for o in attributed), Decimal("0")
                ),
                "treated_rate": lift["treated_rate"],
                "holdout_rate": lift["holdout_rate"],
                "relative_lift": lift["relative_lift"],
                "p_value": lift["p_value"],
                "incremental_revenue": lift["incremental_revenue"],
            }
        )
    return rows
