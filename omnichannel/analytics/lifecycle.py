"""The lifecycle map: customers per stage each week, who moved on, who dropped off.

Stages, lowest first, and the events that put a profile in them:

* discovery: any activity (a page view, a sign-up, an identified visit),
* interest: a product or category viewed, a search, a message or banner clicked,
* consideration: a cart updated, a checkout started,
* purchase: the first order that was not cancelled or refunded,
* retention: the second such order and later ones.

A profile never moves down a stage. It drops off when it shows no activity for
``LIFECYCLE_DROP_OFF_AFTER`` before its first order, or ``LIFECYCLE_LAPSE_AFTER``
after it. The drop-off is dated at the end of that quiet time. Activity after a
drop-off brings it back at its stage (or a higher one), counted as entering again.
Messages sent to a profile are not its activity; opening or clicking them is.

The acquisition channel is read from the profile's first event: its
``acquisition_channel``, ``utm_medium`` or ``utm_source`` property, else the event's
``source``, else "unknown".
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from omnichannel.analytics.recovery import week_start
from omnichannel.conf import app_settings
from omnichannel.db import stream
from omnichannel.profiles.events import PASSIVE_EVENTS
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import counted_orders

logger = logging.getLogger(__name__)

STAGES = ("discovery", "interest", "consideration", "purchase", "retention")
RANK = {stage: index for index, stage in enumerate(STAGES)}
INTEREST_EVENTS = frozenset(
    {
        "product_viewed",
        "category_viewed",
        "searched",
        "message_clicked",
        "banner_clicked",
        "popup_submitted",
        "back_in_stock",
        "offer_claimed",
    }
)
CONSIDERATION_EVENTS = frozenset({"cart_updated", "checkout_started", "cart_abandoned"})
ORDER_EVENT = "order_placed"
UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class Transition:
    """One change of a profile's place on the map."""

    at: datetime
    kind: str  # "enter", "move" or "drop"
    stage: str  # the stage entered, or left for "move" and "drop"
    to_stage: str = ""


def stage_of_event(name: str, order_number: int = 0) -> str | None:
    """Return the stage an event puts a profile in; None for passive events.

    ``order_number`` is 1 for a profile's first counted order, 2 for the second...
    and 0 for an order that does not count.
    """
    if name in PASSIVE_EVENTS:
        return None
    if name == ORDER_EVENT:
        if order_number == 0:
            return None
        return "purchase" if order_number == 1 else "retention"
    if name in CONSIDERATION_EVENTS:
        return "consideration"
    if name in INTEREST_EVENTS:
        return "interest"
    return "discovery"


def transitions(
    activity: list[tuple[datetime, str]],
    *,
    drop_off_after: timedelta,
    lapse_after: timedelta,
    until: datetime,
) -> list[Transition]:
    """Replay one profile's activity (time, stage), oldest first, into transitions
    up to ``until``."""
    result: list[Transition] = []
    stage: str | None = None
    active = False
    last: datetime | None = None

    def quiet_limit(current: str) -> timedelta:
        return lapse_after if RANK[current] >= RANK["purchase"] else drop_off_after

    for at, candidate in activity:
        if stage is not None and active and last is not None:
            dropped_at = last + quiet_limit(stage)
            if at > dropped_at:
                result.append(Transition(dropped_at, "drop", stage))
                active = False
        if stage is None or not active:
            stage = candidate if stage is None else max(stage, candidate, key=RANK.get)  # type: ignore[arg-type]
            result.append(Transition(at, "enter", stage))
            active = True
        elif RANK[candidate] > RANK[stage]:
            result.append(Transition(at, "move", stage, candidate))
            stage = candidate
        last = at
    if stage is not None and active and last is not None:
        dropped_at = last + quiet_limit(stage)
        if dropped_at < until:
            result.append(Transition(dropped_at, "drop", stage))
    return result


def _profile_streams(
    until: datetime,
) -> Iterator[tuple[int, str, list[tuple[datetime, str]]]]:
    """Yield (profile id, acquisition channel, activity) for every profile with
    events before ``until``."""
    counted = set(
        counted_orders().filter(occurred_at__lt=until).values_list("id", flat=True)
    )
    rows = (
        Event.objects.filter(occurred_at__lt=until)
        .exclude(name__in=PASSIVE_EVENTS)
        .order_by("profile_id", "occurred_at", "id")
        .values_list(
            "profile_id",
            "id",
            "name",
            "occurred_at",
            "source",
            "properties__acquisition_channel",
            "properties__utm_medium",
            "properties__utm_source",
        )
    )
    current: int | None = None
    channel = UNKNOWN_CHANNEL
    activity: list[tuple[datetime, str]] = []
    orders = 0
    for (
        profile_id,
        event_id,
        name,
        at,
        source,
        acquisition,
        medium,
        utm_source,
    ) in stream(rows, 10_000):
        if profile_id != current:
            if current is not None and activity:
                yield current, channel, activity
            current, activity, orders = profile_id, [], 0
            channel = str(
                acquisition or medium or utm_source or source or UNKNOWN_CHANNEL
            )
        number = 0
        if name == ORDER_EVENT and event_id in counted:
            orders += 1
            number = orders
        stage = stage_of_event(name, number)
        if stage is not None:
            activity.append((at, stage))
    if current is not None and activity:
        yield current, channel, activity


def lifecycle_map(
    start: datetime,
    end: datetime,
    *,
    drop_off_after: timedelta | None = None,
    lapse_after: timedelta | None = None,
) -> list[dict[str, Any]]:
    """Return one row per (week, channel, stage) for the weeks from ``start`` to
    ``end``: profiles at the stage at the start and end of the week, those who
    entered it, moved on from it and dropped off from it during the week.

    For every row ``at_end = at_start + entered - moved_on - dropped_off``.
    """
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start}).")
    drop_off_after = drop_off_after or app_settings.LIFECYCLE_DROP_OFF_AFTER
    lapse_after = lapse_after or app_settings.LIFECYCLE_LAPSE_AFTER
    first_week = week_start(start)
    weeks: list[datetime] = []
    cursor = first_week
    while cursor < end:
        weeks.append(cursor)
        cursor = week_start(cursor + timedelta(days=7, hours=12))
    until = cursor

    # counts[(channel, stage)][week index][column]
    counts: dict[tuple[str, str], list[dict[str, int]]] = defaultdict(
        lambda: [{"entered": 0, "moved_on": 0, "dropped_off": 0} for _ in weeks]
    )
    before: dict[tuple[str, str], int] = defaultdict(int)
    profiles = 0
    for _, channel, activity in _profile_streams(until):
        profiles += 1
        for change in transitions(
            activity,
            drop_off_after=drop_off_after,
            lapse_after=lapse_after,
            until=until,
        ):
            _count(change, channel, first_week, weeks, counts, before)

    rows = []
    channels = sorted({channel for channel, _ in counts} | {c for c, _ in before})
    for channel in channels:
        for stage in STAGES:
            at_start = before[(channel, stage)]
            series = counts[(channel, stage)]
            for index, week in enumerate(weeks):
                cell = series[index]
                at_end = (
                    at_start + cell["entered"] - cell["moved_on"] - cell["dropped_off"]
                )
                rows.append(
                    {
                        "week": week.date(),
                        "channel": channel,
                        "stage": stage,
                        "at_start": at_start,
                        **cell,
                        "at_end": at_end,
                    }
                )
                at_start = at_end
    logger.info("lifecycle map over %d profiles and %d weeks", profiles, len(weeks))
    return rows


def _count(
    change: Transition,
    channel: str,
    first_week: datetime,
    weeks: list[datetime],
    counts: dict[tuple[str, str], list[dict[str, int]]],
    before: dict[tuple[str, str], int],
) -> None:
    if change.at < first_week:
        # Before the first week: keep a running count of who sits where.
        if change.kind == "enter":
            before[(channel, change.stage)] += 1
        elif change.kind == "move":
            before[(channel, change.stage)] -= 1
            before[(channel, change.to_stage)] += 1
        else:
            before[(channel, change.stage)] -= 1
        return
    index = _week_index(change.at, weeks)
    if index is None:
        return
    if change.kind == "enter":
        counts[(channel, change.stage)][index]["entered"] += 1
    elif change.kind == "move":
        counts[(channel, change.stage)][index]["moved_on"] += 1
        counts[(channel, change.to_stage)][index]["entered"] += 1
    else:
        counts[(channel, change.stage)][index]["dropped_off"] += 1


def _week_index(at: datetime, weeks: list[datetime]) -> int | None:
    start_of_week = week_start(at)
    try:
        return weeks.index(start_of_week)
    except ValueError:
        return None


def combine_channels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum the rows of every channel into one row per (week, stage)."""
    totals: dict[tuple[Any, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["week"], row["stage"])
        total = totals.setdefault(
            key,
            {
                "week": row["week"],
                "channel": "all",
                "stage": row["stage"],
                "at_start": 0,
                "entered": 0,
                "moved_on": 0,
                "dropped_off": 0,
                "at_end": 0,
            },
        )
        for column in ("at_start", "entered", "moved_on", "dropped_off", "at_end"):
            total[column] += row[column]
    return sorted(totals.values(), key=lambda r: (r["week"], RANK[r["stage"]]))


def stage_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum moves and drop-offs per (channel, stage) over the whole period, with the
    drop-off rate: dropped off / (at the start + entered)."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    first_week = min((row["week"] for row in rows), default=None)
    last_week = max((row["week"] for row in rows), default=None)
    for row in rows:
        key = (row["channel"], row["stage"])
        total = totals.setdefault(
            key,
            {
                "channel": row["channel"],
                "stage": row["stage"],
                "at_start": 0,
                "entered": 0,
                "moved_on": 0,
                "dropped_off": 0,
                "at_end": 0,
            },
        )
        if row["week"] == first_week:
            total["at_start"] = row["at_start"]
        if row["week"] == last_week:
            total["at_end"] = row["at_end"]
        for column in ("entered", "moved_on", "dropped_off"):
            total[column] += row[column]
    result = []
    for total in totals.values():
        passing = total["at_start"] + total["entered"]
        total["move_on_rate"] = total["moved_on"] / passing if passing else None
        total["drop_off_rate"] = total["dropped_off"] / passing if passing else None
        result.append(total)
    return sorted(result, key=lambda r: (r["channel"], RANK[r["stage"]]))
