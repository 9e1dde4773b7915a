"""The weekly insight task and its celery beat entry."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task

from omnichannel.assistant.settings import assistant_settings
from omnichannel.schedule import assistant_entries

INSIGHT_TASK = "omnichannel.assistant.write_weekly_insight"


@shared_task(name=INSIGHT_TASK)
def write_weekly_insight(week_start: str | None = None) -> dict[str, Any]:
    """Write the insight of the week starting ``week_start`` (ISO date) or the last
    full week."""
    from omnichannel.assistant.insights import write_weekly_insight as write

    day = date.fromisoformat(week_start) if week_start else None
    insight = write(day)
    return {"week_start": insight.week_start.isoformat(), "author": insight.author}


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Return the celery beat entry of the weekly insight.

    ``omnichannel.schedule.beat_schedule()`` includes it with every other entry of
    the app; the time comes from ``ASSISTANT["INSIGHTS_SCHEDULE"]`` in celery's
    time zone.
    """
    return assistant_entries({"ASSISTANT": assistant_settings()})
