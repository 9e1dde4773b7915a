"""Deleting events older than their type's retention period.

``EVENT_RETENTION`` maps event names (and ``"*"`` for every other name) to a
timedelta, or to None to keep forever. Order events are never deleted, because
the order aggregates of profiles are computed from them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.profiles.aggregates import AGGREGATE_EVENTS
from omnichannel.profiles.models import Event

logger = logging.getLogger(__name__)

DELETE_BATCH = 5000


def retention_periods() -> tuple[dict[str, timedelta], timedelta | None]:
    """Return the periods per event name and the one for every other name."""
    setting = dict(app_settings.EVENT_RETENTION or {})
    default = setting.pop("*", None)
    periods = {
        name: period
        for name, period in setting.items()
        if period is not None and name not in AGGREGATE_EVENTS
    }
    return periods, default


def apply_event_retention(
    *, now: datetime | None = None, dry_run: bool = False
) -> dict[str, int]:
    """Delete events older than their retention period; return counts per name.

    Deletes in batches of a few thousand rows, so no transaction holds locks for
    long. With ``dry_run``, counts what would go and deletes nothing.
    """
    now = now or timezone.now()
    periods, default = retention_periods()
    deleted: dict[str, int] = {}
    for name, period in periods.items():
        rows = Event.objects.filter(name=name, occurred_at__lt=now - period)
        deleted[name] = _delete(rows, dry_run)
    if default is not None:
        kept = [*periods, *AGGREGATE_EVENTS]
        explicit = set(app_settings.EVENT_RETENTION) - {"*"}
        rows = Event.objects.filter(occurred_at__lt=now - default).exclude(
            name__in=sorted(set(kept) | explicit)
        )
        deleted["*"] = _delete(rows, dry_run)
    logger.info(
        "event retention %s %d events",
        "would delete" if dry_run else "deleted",
        sum(deleted.values()),
    )
    return {name: count for name, count in deleted.items() if count}


def _delete(rows: object, dry_run: bool) -> int:
    if dry_run:
        return rows.count()  # type: ignore[attr-defined]
    total = 0
    while True:
        pks = list(rows.values_list("pk", flat=True)[:DELETE_BATCH])  # type: ignore[attr-defined]
        if not pks:
            return total
        total += Event.objects.filter(pk__in=pks).delete()[0]
