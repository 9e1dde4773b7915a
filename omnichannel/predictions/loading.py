"""Pull the arrays the models need out of the Event log with aggregate queries.

Orders are the ``order_placed`` events that count toward the profile's aggregates
(no cancellation or refund event for the same order), summed per customer and
calendar day in the shop's time zone. Engagement is read from message events:
``message_opened``, ``message_clicked`` and ``message_replied`` for send time, and
for channel affinity also ``message_sent`` and ``message_delivered``, with the
channel taken from the event's ``properties["channel"]``.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, Mod, TruncDate

from omnichannel.conf import app_settings
from omnichannel.db import stream
from omnichannel.predictions.optimise import FloatArray
from omnichannel.profiles.models import Event, Profile
from omnichannel.profiles.services import counted_orders

logger = logging.getLogger(__name__)

ENGAGEMENT_EVENTS = ("message_opened", "message_clicked", "message_replied")
SENT_EVENTS = ("message_sent", "message_delivered")


def shop_zone() -> zoneinfo.ZoneInfo:
    """Return the zone of customers without one (``DEFAULT_TIME_ZONE`` or Django's)."""
    return zoneinfo.ZoneInfo(app_settings.DEFAULT_TIME_ZONE or settings.TIME_ZONE)


def local_date(moment: datetime.datetime) -> datetime.date:
    """Return the calendar date of an aware datetime in the shop's time zone."""
    return moment.astimezone(shop_zone()).date()


def eligible_profiles() -> Q:
    """Return the filter for profiles that are scored: not merged away, not erased."""
    return Q(merged_into__isnull=True, erased_at__isnull=True)


@dataclass(frozen=True)
class OrderDays:
    """Spend per customer and day, as parallel arrays."""

    profile_ids: np.ndarray
    days: np.ndarray
    amounts: FloatArray

    def __len__(self) -> int:
        return int(self.profile_ids.shape[0])

    def only(self, profile_ids: np.ndarray) -> OrderDays:
        """Return the rows of the given profiles."""
        keep = np.isin(self.profile_ids, profile_ids)
        return OrderDays(
            profile_ids=self.profile_ids[keep],
            days=self.days[keep],
            amounts=self.amounts[keep],
        )


def eligible_profile_ids() -> np.ndarray:
    """Return the ids of all profiles that are scored, sorted."""
    ids = Profile.objects.filter(eligible_profiles()).order_by("pk")
    return np.fromiter(ids.values_list("pk", flat=True).iterator(), dtype=np.int64)


def load_order_days(
    *,
    profile_range: tuple[int, int] | None = None,
    until: datetime.date | None = None,
) -> OrderDays:
    """Return each customer's total order value per day in the shop's time zone.

    ``profile_range`` limits the result to profile ids from the first to the last
    value, inclusive, and ``until`` leaves out orders after that date. An order
    without a revenue counts as 0.00. The query does not join the profile table,
    so that its plan stays cheap even before the database has statistics on a
    freshly imported table; callers drop merged or erased profiles themselves.
    """
    zone = shop_zone()
    orders = counted_orders()
    if profile_range is not None:
        orders = orders.filter(
            profile_id__gte=profile_range[0], profile_id__lte=profile_range[1]
        )
    if until is not None:
        after = datetime.datetime.combine(
            until + datetime.timedelta(days=1), datetime.time(), tzinfo=zone
        )
        orders = orders.filter(occurred_at__lt=after)
    rows = (
        orders.annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .order_by()
        .values("profile_id", "day")
        .annotate(total=Sum("revenue"))
        .values_list("profile_id", "day", "total")
    )
    profile_ids: list[int] = []
    days: list[datetime.date] = []
    amounts: list[float] = []
    for profile_id, day, total in stream(rows, 20_000):
        profile_ids.append(profile_id)
        days.append(day)
        amounts.append(float(total if total is not None else Decimal("0")))
    return OrderDays(
        profile_ids=np.array(profile_ids, dtype=np.int64),
        days=np.array(days, dtype="datetime64[D]"),
        amounts=np.array(amounts, dtype=np.float64),
    )


def zone_groups(profile_zones: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """Group profile ids by the IANA zone their send times are computed in.

    An empty or unknown zone name falls back to the shop's zone; unknown names are
    logged once per name.
    """
    default = shop_zone().key
    groups: dict[str, list[int]] = defaultdict(list)
    unknown: dict[str, int] = defaultdict(int)
    for profile_id, name in profile_zones:
        zone = name or default
        if zone != default and not _is_zone(zone):
            unknown[zone] += 1
            zone = default
        groups[zone].append(profile_id)
    for name, count in unknown.items():
        logger.warning(
            "unknown time zone %r on %d profiles; using %s for their send times",
            name,
            count,
            default,
        )
    return dict(groups)


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class EngagementCells:
    """Engagement counts per (profile, hour of the week), as parallel arrays."""

    profile_ids: np.ndarray
    hours_of_week: np.ndarray
    counts: FloatArray


def load_engagement_cells(
    groups: dict[str, list[int]] | None,
    *,
    since: datetime.datetime,
    sample_every: int = 1,
    per_profile: bool = True,
) -> EngagementCells:
    """Count opens, clicks and replies per profile and local hour of the week.

    ``groups`` maps a zone to profile ids (see ``zone_groups``); ``None`` means all
    eligible profiles. ``sample_every=k`` keeps only profiles whose id is a
    multiple of ``k``, a cheap systematic sample. With ``per_profile=False`` the
    counts are summed over profiles and every profile id is 0.
    """
    filters = (
        _zone_filters()
        if groups is None
        else {zone: Q(profile_id__in=ids) for zone, ids in groups.items() if ids}
    )
    keys = ("profile_id", "weekday", "hour") if per_profile else ("weekday", "hour")

    profile_ids: list[int] = []
    hours: list[int] = []
    counts: list[float] = []
    for zone_name, profile_filter in filters.items():
        zone = zoneinfo.ZoneInfo(zone_name)
        events = Event.objects.filter(
            profile_filter, name__in=ENGAGEMENT_EVENTS, occurred_at__gte=since
        )
        if sample_every > 1:
            events = events.annotate(bucket=Mod("profile_id", sample_every)).filter(
                bucket=0
            )
        rows = (
            events.annotate(
                weekday=ExtractIsoWeekDay("occurred_at", tzinfo=zone),
                hour=ExtractHour("occurred_at", tzinfo=zone),
            )
            .order_by()
            .values(*keys)
            .annotate(events=Count("id"))
            .values_list(*keys, "events")
        )
        for row in stream(rows, 20_000):
            *profile, weekday, hour, number = row
            profile_ids.append(profile[0] if profile else 0)
            hours.append((weekday - 1) * 24 + hour)
            counts.append(float(number))
    return EngagementCells(
        profile_ids=np.array(profile_ids, dtype=np.int64),
        hours_of_week=np.array(hours, dtype=np.int64),
        counts=np.array(counts, dtype=np.float64),
    )


def _zone_filters() -> dict[str, Q]:
    """Return one event filter per zone, covering every eligible profile."""
    names = set(
        Profile.objects.filter(eligible_profiles())
        .order_by()
        .values_list("time_zone", flat=True)
        .distinct()
    )
    default = shop_zone().key
    raw_names: dict[str, list[str]] = defaultdict(list)
    for name in names:
        zone = name if name and _is_zone(name) else default
        raw_names[zone].append(name)
    # Merged profiles hold no events (a merge moves them), so only the time zone
    # needs the profile table.
    return {
        zone: Q(profile__time_zone__in=members) for zone, members in raw_names.items()
    }


@dataclass(frozen=True)
class MessageCounts:
    """Messages sent and engaged with per profile and channel."""

    profile_ids: np.ndarray
    channels: tuple[str, ...]
    sent: FloatArray
    engaged: FloatArray

    def rows_for(
        self, profile_ids: np.ndarray, channels: tuple[str, ...]
    ) -> tuple[FloatArray, FloatArray]:
        """Return sent and engaged matrices for the given profiles and channels.

        Rows follow ``profile_ids`` and columns follow ``channels``; profiles and
        channels without counts get zeros.
        """
        row_of = {int(pk): row for row, pk in enumerate(self.profile_ids.tolist())}
        sent = np.zeros((len(profile_ids), len(channels)))
        engaged = np.zeros_like(sent)
        targets = [c for c, name in enumerate(channels) if name in self.channels]
        sources = [self.channels.index(channels[c]) for c in targets]
        for row, pk in enumerate(profile_ids.tolist()):
            source = row_of.get(int(pk))
            if source is not None:
                sent[row, targets] = self.sent[source, sources]
                engaged[row, targets] = self.engaged[source, sources]
        return sent, engaged


def load_message_counts(
    *,
    profile_range: tuple[int, int] | None,
    since: datetime.datetime,
    sample_every: int = 1,
) -> MessageCounts:
    """Count distinct messages sent and engaged with per profile and channel.

    A message is identified by the event's ``object_id``; an event without an
    ``object_id`` counts as a message of its own. Events without
    ``properties["channel"]`` are left out.
    """
    per_message = Count("object_id", distinct=True, filter=~Q(object_id="")) + Count(
        "id", filter=Q(object_id="")
    )
    base = Event.objects.filter(occurred_at__gte=since, properties__has_key="channel")
    if profile_range is not None:
        base = base.filter(
            profile_id__gte=profile_range[0], profile_id__lte=profile_range[1]
        )
    if sample_every > 1:
        base = base.annotate(bucket=Mod("profile_id", sample_every)).filter(bucket=0)

    tallies: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for column, names in ((0, SENT_EVENTS), (1, ENGAGEMENT_EVENTS)):
        rows = (
            base.filter(name__in=names)
            .annotate(channel=KT("properties__channel"))
            .order_by()
            .values("profile_id", "channel")
            .annotate(messages=per_message)
            .values_list("profile_id", "channel", "messages")
        )
        for profile_id, channel, messages in stream(rows, 20_000):
            if channel:
                tallies[(profile_id, str(channel))][column] += float(messages)

    channels = tuple(sorted({channel for _pk, channel in tallies}))
    profile_ids = sorted({pk for pk, _channel in tallies})
    row_of = {pk: row for row, pk in enumerate(profile_ids)}
    column_of = {channel: column for column, channel in enumerate(channels)}
    sent = np.zeros((len(profile_ids), len(channels)))
    engaged = np.zeros_like(sent)
    for (pk, channel), (sent_count, engaged_count) in tallies.items():
        sent[row_of[pk], column_of[channel]] = sent_count
        engaged[row_of[pk], column_of[channel]] = engaged_count
    return MessageCounts(
        profile_ids=np.array(profile_ids, dtype=np.int64),
        channels=channels,
        sent=sent,
        engaged=engaged,
    )
