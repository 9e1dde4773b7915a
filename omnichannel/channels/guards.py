"""Send-time guards the journey engine applies: quiet hours and frequency caps."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

from django.conf import settings

from omnichannel.channels.models import Delivery
from omnichannel.conf import app_settings
from omnichannel.profiles.models import Profile


def parse_clock(value: str) -> time:
    """Return the time of day written as ``"HH:MM"``; raise ValueError."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
        return time(hours, minutes)
    except (AttributeError, TypeError, ValueError):
        raise ValueError(
            f"{value!r} is not a time of day; write it as 'HH:MM', such as '21:00'."
        ) from None


def profile_zone(profile: Profile) -> zoneinfo.ZoneInfo:
    """Return the profile's time zone, else the shop's default, else TIME_ZONE."""
    for name in (profile.time_zone, app_settings.DEFAULT_TIME_ZONE, settings.TIME_ZONE):
        if not name:
            continue
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def quiet_hours_defer_until(profile: Profile, at: datetime) -> datetime | None:
    """Return when a message due at ``at`` may go, or None if it may go now.

    ``QUIET_HOURS`` is ``(start, end)`` in the recipient's local time; a window
    whose start is after its end spans midnight. The returned moment is the end of
    the window in the recipient's zone, as an aware datetime in UTC.
    """
    window = app_settings.QUIET_HOURS
    if not window:
        return None
    start, end = (parse_clock(value) for value in window)
    zone = profile_zone(profile)
    local = at.astimezone(zone)
    clock = local.time()
    if start <= end:
        quiet = start <= clock < end
    else:
        quiet = clock >= start or clock < end
    if not quiet:
        return None
    end_day = local.date()
    if start > end and clock >= start:
        end_day += timedelta(days=1)
    resume = datetime.combine(end_day, end).replace(tzinfo=zone)
    # A wall-clock time skipped by a daylight saving change resolves forward.
    resume = resume.astimezone(UTC).astimezone(zone)
    return resume.astimezone(UTC)


def frequency_cap_reached(profile: Profile, channel: str, at: datetime) -> bool:
    """Tell whether ``profile`` already got the most messages ``FREQUENCY_CAPS``
    allows on ``channel`` in the period ending at ``at``, over all sources."""
    cap = app_settings.FREQUENCY_CAPS.get(channel)
    if not cap:
        return False
    limit, period = cap
    sent = Delivery.objects.filter(
        profile=profile,
        channel=channel,
        status=Delivery.Status.SENT,
        sent_at__gt=at - period,
        sent_at__lte=at,
    ).count()
    return sent >= limit
