"""Size of a segment over time, from its membership history, and the admin chart."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from omnichannel.segments.conditions.checks import shop_zone
from omnichannel.segments.models import Segment, SegmentMembership


def size_history(
    segment: Segment, days: int = 90, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Return ``(day, members at the end of the day)`` for the last ``days`` days.

    Days are calendar days in the shop's time zone; the last one is today, counted up
    to ``now``. Three queries, whatever the number of days.
    """
    zone = shop_zone()
    now = now or timezone.now()
    first = timezone.localdate(now, zone) - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time()), zone)
    memberships = SegmentMembership.objects.filter(segment=segment)
    size = (
        memberships.filter(entered_at__lt=start)
        .filter(Q(exited_at__isnull=True) | Q(exited_at__gte=start))
        .count()
    )
    entered = _per_day(memberships, "entered_at", start, now, zone)
    exited = _per_day(memberships, "exited_at", start, now, zone)
    points = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        size += entered.get(day, 0) - exited.get(day, 0)
        points.append((day, size))
    return points


def _per_day(memberships, column, start, now, zone) -> dict[date, int]:  # type: ignore[no-untyped-def]
    rows = (
        memberships.filter(**{f"{column}__gte": start, f"{column}__lte": now})
        .annotate(day=TruncDate(column, tzinfo=zone))
        .values("day")
        .annotate(changes=Count("pk"))
        .values_list("day", "changes")
        .order_by()
    )
    return dict(rows)


def size_chart(
    points: list[tuple[date, int]], width: int = 640, height: int = 180
) -> SafeString:
    """Return an inline SVG line chart of ``size_history`` points."""
    if not points:
        return SafeString("")
    left, right, top, bottom = 48, 8, 10, 24
    plot_width, plot_height = width - left - right, height - top - bottom
    highest = max(size for _day, size in points) or 1
    step = plot_width / max(len(points) - 1, 1)
    coordinates = " ".join(
        f"{left + index * step:.1f},{top + plot_height * (1 - size / highest):.1f}"
        for index, (_day, size) in enumerate(points)
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="{}" font-size="11">{}</text>',
        [
            (left - 4, top + 10, "end", highest),
            (left - 4, top + plot_height, "end", 0),
            (left, height - 6, "start", points[0][0].isoformat()),
            (width - right, height - 6, "end", points[-1][0].isoformat()),
        ],
    )
    return format_html(
        '<svg class="omnichannel-size-chart" role="img" width="{}" height="{}" '
        'viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>"
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<polyline fill="none" stroke="#417690" stroke-width="2" points="{}"/>'
        "{}</svg>",
        width,
        height,
        width,
        height,
        f"{points[0][1]} to {points[-1][1]} members",
        left,
        top + plot_height,
        width - right,
        top + plot_height,
        coordinates,
        labels,
    )
