"""Weekly insights: what changed in sends, opens, clicks, conversions and revenue.

The app computes the numbers per channel and per journey, for the week and the week
before, from the outbox (``Delivery``) and orders attributed to their last click.
The model only writes the text. A text that quotes a number not found in those
figures is discarded for the plain summary, which is also used without a model.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Count
from django.utils import timezone

from omnichannel.assistant.client import get_client
from omnichannel.assistant.exceptions import AssistantError, InvalidRequest
from omnichannel.assistant.models import WeeklyInsight
from omnichannel.assistant.settings import setting
from omnichannel.channels.models import Delivery

logger = logging.getLogger(__name__)

METRICS = ("sends", "opens", "clicks", "conversions", "revenue")
DELIVERY_TIMES = {"sends": "sent_at", "opens": "opened_at", "clicks": "clicked_at"}
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def week_bounds(week_start: date) -> tuple[datetime, datetime]:
    """Return the aware start and end of the week starting on ``week_start``."""
    start = timezone.make_aware(datetime.combine(week_start, time.min))
    return start, start + timedelta(days=7)


def last_full_week(today: date | None = None) -> date:
    """Return the Monday of the last week that has ended."""
    today = today or timezone.localdate()
    return today - timedelta(days=today.weekday() + 7)


def _empty() -> dict[str, Any]:
    return {
        "sends": 0,
        "opens": 0,
        "clicks": 0,
        "conversions": 0,
        "revenue": Decimal("0"),
    }


def period_metrics(
    start: datetime, end: datetime
) -> dict[str, dict[Any, dict[str, Any]]]:
    """Return the five metrics per channel and per journey id in [start, end)."""
    from omnichannel.analytics.attribution import attribute_orders

    channels: dict[str, dict[str, Any]] = defaultdict(_empty)
    journeys: dict[int, dict[str, Any]] = defaultdict(_empty)
    for metric, column in DELIVERY_TIMES.items():
        rows = (
            Delivery.objects.filter(**{f"{column}__gte": start, f"{column}__lt": end})
            .values("channel", "context__journey_id")
            .annotate(count=Count("id"))
        )
        for row in rows:
            channels[row["channel"]][metric] += row["count"]
            journey_id = _journey_id(row["context__journey_id"])
            if journey_id is not None:
                journeys[journey_id][metric] += row["count"]
    for order in attribute_orders(start, end):
        if order.touch is None:
            continue
        for bucket in (
            channels[order.touch.channel] if order.touch.channel else None,
            journeys[order.journey_id] if order.journey_id is not None else None,
        ):
            if bucket is not None:
                bucket["conversions"] += 1
                bucket["revenue"] += order.revenue
    return {"channels": dict(channels), "journeys": dict(journeys)}


def _journey_id(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def change(current: Any, previous: Any) -> float | None:
    """Return the change in percent, rounded to one decimal; None from zero."""
    if not previous:
        return None
    return round((float(current) - float(previous)) / float(previous) * 100, 1)


def compute_week(week_start: date) -> dict[str, Any]:
    """Return the metrics of the week and the week before, with their changes."""
    start, end = week_bounds(week_start)
    current = period_metrics(start, end)
    previous = period_metrics(start - timedelta(days=7), start)
    journey_model = apps.get_model("omnichannel", "Journey")
    names = dict(journey_model.objects.values_list("id", "name"))

    def rows(kind: str) -> list[dict[str, Any]]:
        keys = sorted(set(current[kind]) | set(previous[kind]), key=str)
        result = []
        for key in keys:
            now = current[kind].get(key, _empty())
            before = previous[kind].get(key, _empty())
            row: dict[str, Any] = {"key": key}
            if kind == "journeys":
                row["name"] = names.get(key, f"journey {key}")
            for metric in METRICS:
                row[metric] = _number(now[metric])
                row[f"{metric}_previous"] = _number(before[metric])
                row[f"{metric}_change"] = change(now[metric], before[metric])
            result.append(row)
        return result

    return {
        "week_start": week_start.isoformat(),
        "week_end": (week_start + timedelta(days=6)).isoformat(),
        "currency": _currency(),
        "channels": rows("channels"),
        "journeys": rows("journeys"),
    }


def _number(value: Any) -> Any:
    return str(value.quantize(Decimal("0.01"))) if isinstance(value, Decimal) else value


def _currency() -> str:
    from omnichannel.conf import app_settings

    return app_settings.DEFAULT_CURRENCY


def _line(label: str, row: dict[str, Any], currency: str) -> str:
    parts = []
    for metric in METRICS:
        value = row[metric]
        text = (
            f"{value} {currency} revenue"
            if metric == "revenue"
            else f"{value} {metric}"
        )
        delta = row[f"{metric}_change"]
        if delta is not None:
            text += f" ({delta:+.1f}%)"
        elif row[f"{metric}_previous"] in (0, "0.00") and value not in (0, "0.00"):
            text += " (none the week before)"
        parts.append(text)
    return f"{label}: " + ", ".join(parts) + "."


def plain_summary(metrics: dict[str, Any]) -> str:
    """Write the numbers as sentences, one line per channel and journey."""
    currency = metrics["currency"]
    lines = [
        f"Week of {metrics['week_start']} to {metrics['week_end']}, compared with the "
        "week before (changes in percent)."
    ]
    if not metrics["channels"] and not metrics["journeys"]:
        lines.append("No messages were sent, opened or clicked in either week.")
    for row in metrics["channels"]:
        lines.append(_line(f"Channel {row['key']}", row, currency))
    for row in metrics["journeys"]:
        lines.append(_line(f"Journey {row['name']}", row, currency))
    return "\n".join(lines)


def allowed_numbers(metrics: dict[str, Any]) -> set[str]:
    """Return every number the text may quote, in the forms a writer would use."""
    allowed: set[str] = set()

    def add(value: Any) -> None:
        if value is None:
            return
        number = float(value)
        for form in (number, abs(number)):
            allowed.update(
                {_normal(f"{form:.2f}"), _normal(f"{form:.1f}"), _normal(f"{form:.0f}")}
            )

    for row in metrics["channels"] + metrics["journeys"]:
        for name, value in row.items():
            if (
                name != "key"
                and name != "name"
                and isinstance(value, int | float | str)
            ):
                try:
                    add(Decimal(str(value)))
                except ArithmeticError:
                    continue
        for metric in METRICS:
            add(row[metric])
        if isinstance(row["key"], int):
            add(row["key"])
    for part in re.findall(r"\d+", metrics["week_start"] + " " + metrics["week_end"]):
        add(int(part))
    add(7)
    return allowed


def _normal(text: str) -> str:
    text = text.replace(",", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def invented_numbers(text: str, metrics: dict[str, Any]) -> list[str]:
    """Return the numbers of ``text`` that are not in ``metrics``."""
    allowed = allowed_numbers(metrics)
    return sorted({n for n in _NUMBER.findall(text) if _normal(n) not in allowed})


def _model_summary(metrics: dict[str, Any]) -> tuple[str, str]:
    client = get_client()
    if client is None:
        return "", ""
    system = (
        "You write a short weekly marketing summary for a small shop's team: what "
        "changed per channel and journey, the largest changes first, in at most 8 "
        f"sentences. Language: {setting('LANGUAGE')}. Quote only numbers that appear "
        "in the data; compute nothing new. Data fields: sends, opens, clicks, "
        "conversions, revenue, each with _previous (week before) and _change (percent)."
    )
    if setting("BRAND_VOICE"):
        system += f" Brand voice: {setting('BRAND_VOICE')}"
    try:
        completion = client.complete(
            [
                {"role": "system", "content": system},
                {"role": "user", "content": json.dumps(metrics)},
            ],
            feature="insights",
            temperature=0.3,
        )
    except AssistantError as error:
        return "", f"The model failed ({error}); the numbers-only text is shown."
    invented = invented_numbers(completion.text, metrics)
    if invented:
        logger.warning(
            "discarded an insight text quoting %d numbers not in the data",
            len(invented),
        )
        return "", (
            "The model's text quoted numbers not in the data ("
            + ", ".join(invented[:5])
            + "), so the numbers-only text is shown."
        )
    return completion.text.strip(), completion.model


def write_weekly_insight(week_start: date | None = None) -> WeeklyInsight:
    """Compute and store the insight of one week (default: the last full week)."""
    week_start = week_start or last_full_week()
    if not isinstance(week_start, date):
        raise InvalidRequest("week_start", f"{week_start!r} is not a date.")
    if week_start > timezone.localdate():
        raise InvalidRequest("week_start", f"{week_start} is in the future.")
    metrics = compute_week(week_start)
    text, detail = _model_summary(metrics)
    if text:
        author, model, note = WeeklyInsight.Author.MODEL, detail, ""
    else:
        author, model, note = WeeklyInsight.Author.NUMBERS, "", detail
        text = plain_summary(metrics)
    insight, _created = WeeklyInsight.objects.update_or_create(
        week_start=week_start,
        defaults={
            "metrics": metrics,
            "summary": text,
            "author": author,
            "model": model[:200],
            "note": note[:300],
            "created_at": timezone.now(),
        },
    )
    logger.info("wrote the insight of the week of %s (%s)", week_start, author)
    return insight
