"""The weekly insight task and its celery beat entry."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task
from celery.schedules import crontab

from omnichannel.assistant.settings import setting

INSIGHT_TASK = "omnichannel.assistant.write_weekly_insight"


@shared_task(name=INSIGHT_TASK)
def write_weekly_insight(week_start: str | None = None) -> dict[str, Any]:
    """Write the insight of the week starting ``week_start`` (ISO date) or the last
    full week."""
    from omnichannel.assistant.insights import write_weekly_insight as write

    day = date.fromisoformat(week_start) if week_start else None
    insight = write(day)
    return {"week_start": insight.week_start.isoformat(), "author": insight.author}


def parse_crontab(expression: Any) -> crontab:
    """Turn five crontab fields ("minute hour day month weekday") into a schedule."""
    if not isinstance(expression, str):
        raise TypeError(f"{expression!r} is not a string of five crontab fields.")
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} has {len(fields)} fields; a crontab expression has five "
            "(minute hour day-of-month month day-of-week)."
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Return the celery beat entry of the weekly insight.

    Merge it into ``CELERY_BEAT_SCHEDULE``; the time comes from
    ``ASSISTANT["INSIGHTS_SCHEDULE"]`` in celery's time zone.
    """
    return {
        "omnichannel-assistant-weekly-insight": {
            "task": INSIGHT_TASK,
            "schedule": parse_crontab(setting("INSIGHTS_SCHEDULE")),
        }
    }
