"""Helpers that validate the parts of a leaf and raise InvalidRule with its path."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from omnichannel.exceptions import InvalidRule

#: Largest magnitude accepted for a number in a rule. Beyond 2**53 a float loses
#: integers, and the databases and Python would then compare different values.
MAX_NUMBER = 10**15
MAX_TEXT_LENGTH = 1000
MAX_LIST_ITEMS = 500
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}$")


def child(path: str, key: str) -> str:
    """Return the path of ``key`` inside the node at ``path``."""
    return f"{path}.{key}" if path else key


def item(path: str, index: int) -> str:
    """Return the path of list item ``index`` at ``path``."""
    return f"{path}[{index}]"


def check_keys(
    node: Mapping[str, Any],
    path: str,
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> None:
    """Reject missing required keys and unknown ones."""
    required, optional = list(required), list(optional)
    for key in required:
        if key not in node:
            raise InvalidRule(child(path, key), "is required.")
    allowed = {"type", *required, *optional}
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise InvalidRule(
            child(path, unknown[0]),
            f"is not a known key here; use {', '.join(sorted(allowed))}.",
        )


def check_choice(value: Any, path: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        shown = ", ".join(choices[:20]) + (", ..." if len(choices) > 20 else "")
        raise InvalidRule(path, f"{value!r} is not one of {shown}.")
    return value


def check_text(value: Any, path: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidRule(path, f"must be a string, not {_kind(value)}.")
    if not allow_empty and value == "":
        raise InvalidRule(path, "must not be empty.")
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidRule(path, f"must be at most {MAX_TEXT_LENGTH} characters.")
    if "\x00" in value:
        raise InvalidRule(path, "must not contain the NUL character.")
    return value


def check_number(
    value: Any,
    path: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRule(path, f"must be a number, not {_kind(value)}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRule(path, "must be a finite number.")
    if integer and not (isinstance(value, int) or value.is_integer()):
        raise InvalidRule(path, f"must be a whole number, not {value!r}.")
    if abs(value) > MAX_NUMBER:
        raise InvalidRule(path, f"must be between -{MAX_NUMBER} and {MAX_NUMBER}.")
    if minimum is not None and value < minimum:
        raise InvalidRule(path, f"must be at least {minimum}, not {value!r}.")
    if maximum is not None and value > maximum:
        raise InvalidRule(path, f"must be at most {maximum}, not {value!r}.")
    return int(value) if integer else value


def check_list(value: Any, path: str, *, max_items: int = MAX_LIST_ITEMS) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRule(path, f"must be a list, not {_kind(value)}.")
    if not value:
        raise InvalidRule(path, "must not be empty.")
    if len(value) > max_items:
        raise InvalidRule(path, f"must have at most {max_items} items.")
    return value


def check_range(value: Any, path: str, **number_options: Any) -> tuple[Any, Any]:
    """Check a ``[low, high]`` pair of numbers with ``low <= high``."""
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidRule(path, "must be a list of two numbers, [low, high].")
    low = check_number(value[0], item(path, 0), **number_options)
    high = check_number(value[1], item(path, 1), **number_options)
    if low > high:
        raise InvalidRule(path, f"the low end {low!r} is above the high end {high!r}.")
    return low, high


def check_key(value: Any, path: str) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise InvalidRule(
            path,
            f"{value!r} is not a valid key; use 1 to 64 letters, digits, "
            "underscores or hyphens.",
        )
    return value


def check_moment(value: Any, path: str) -> datetime:
    """Check an ISO 8601 date or aware datetime; return it as an aware datetime.

    A date means its midnight in the shop's time zone.
    """
    moment = parse_moment(value)
    if moment is None:
        raise InvalidRule(
            path,
            f"{value!r} is not a date (2026-12-24) or a datetime with a UTC offset "
            "(2026-12-24T18:00:00+01:00).",
        )
    return moment


def parse_moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        day = parse_date(value)
        if day is not None:
            return timezone.make_aware(datetime.combine(day, time()), shop_zone())
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        return None
    return moment


def check_day(value: Any, path: str) -> date:
    try:
        day = parse_date(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidRule(path, f"{value!r} is not a date such as 2026-12-24.")
    return day


def shop_zone() -> Any:
    """Return the shop's time zone: DEFAULT_TIME_ZONE, else settings.TIME_ZONE."""
    import zoneinfo

    from omnichannel.conf import app_settings

    name = app_settings.DEFAULT_TIME_ZONE
    return zoneinfo.ZoneInfo(name) if name else timezone.get_default_timezone()


def to_decimal(value: int | float) -> Decimal:
    """Return a rule number as the Decimal it was written as."""
    return Decimal(str(value))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
