"""Reuse the compiled SQL of the visitor query from one request to the next.

Building and compiling the ORM query of the visitor's facts costs more than running
it, and only its parameters change between pages: the visitor's identifiers and the
clock. The first request of a shape (which identifiers, which rules) compiles the
query twice, with placeholder identifiers and with two clocks a known step apart.
Parameters equal to a placeholder become that identifier, parameters that moved by
exactly the step become "now plus a fixed offset", and the rest are constants. A
shape whose parameters do not split this way is never cached and runs through the
ORM every time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from omnichannel.profiles.models import Profile

SENTINEL_VISITOR = "omnichannel-placeholder-visitor-id"
SENTINEL_USER = -730_199_310_1
SENTINEL_PK = -730_199_310_2
#: An odd step, so no constant of a rule moves by it by chance.
PROBE_STEP = timedelta(days=1, seconds=1, microseconds=7)
MAX_SHAPES = 256

_shapes: dict[tuple[Any, ...], Prepared | None] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Slot:
    """The source of one parameter's value."""

    kind: str  # "const", "pk", "user", "visitor", "now" or "now_text"
    value: Any = None

    def resolve(self, identifiers: Mapping[str, Any], now: datetime) -> Any:
        if self.kind == "const":
            return self.value
        if self.kind in ("pk", "user", "visitor"):
            return identifiers[self.kind]
        moment = now + self.value
        if self.kind == "now_text":
            return connection.ops.adapt_datetimefield_value(moment)
        return moment


@dataclass(frozen=True)
class Prepared:
    """The SQL of one query shape, its parameter slots and rule column names."""

    sql: str
    slots: tuple[Slot, ...]
    names: dict[str, str]


def fetch_visitor(
    identifiers: Mapping[str, Any],
    rules_by_key: Mapping[str, Any],
    experiments: list[str],
    now: datetime,
) -> tuple[Profile | None, dict[str, str]]:
    """Run the visitor query; return the profile row (or None) and rule columns."""
    from omnichannel.personalisation.visitor import visitor_queryset

    key = (
        connection.vendor,
        identifiers["pk"] is not None,
        identifiers["user"] is not None,
        identifiers["visitor"] is not None,
        tuple(rules_by_key),
        tuple(experiments),
    )
    if key in _shapes:
        prepared = _shapes[key]
    else:
        prepared = prepare(identifiers, rules_by_key, experiments, now)
        with _lock:
            if len(_shapes) >= MAX_SHAPES:
                _shapes.clear()
            _shapes[key] = prepared
    if prepared is None:
        queryset, names = visitor_queryset(identifiers, rules_by_key, experiments, now)
        return next(iter(queryset), None), names

    params = [slot.resolve(identifiers, now) for slot in prepared.slots]
    rows = list(Profile.objects.raw(prepared.sql, params))
    return (rows[0] if rows else None), prepared.names


def prepare(
    identifiers: Mapping[str, Any],
    rules_by_key: Mapping[str, Any],
    experiments: list[str],
    now: datetime,
) -> Prepared | None:
    """Compile the query of one shape into reusable SQL, or None if it cannot be."""
    from omnichannel.personalisation.visitor import visitor_queryset

    probe = {
        "pk": SENTINEL_PK if identifiers["pk"] is not None else None,
        "user": SENTINEL_USER if identifiers["user"] is not None else None,
        "visitor": SENTINEL_VISITOR if identifiers["visitor"] is not None else None,
    }
    first, names = visitor_queryset(probe, rules_by_key, experiments, now)
    second, second_names = visitor_queryset(
        probe, rules_by_key, experiments, now + PROBE_STEP
    )
    sql, params = first.query.sql_with_params()
    other_sql, other_params = second.query.sql_with_params()
    if sql != other_sql or len(params) != len(other_params) or names != second_names:
        return None
    slots = []
    for value, other in zip(params, other_params, strict=True):
        slot = _slot(value, other, now)
        if slot is None:
            return None
        slots.append(slot)
    return Prepared(sql=sql, slots=tuple(slots), names=names)


def _slot(value: Any, other: Any, now: datetime) -> Slot | None:
    if isinstance(value, str) and value == SENTINEL_VISITOR:
        return Slot("visitor")
    if isinstance(value, int) and not isinstance(value, bool):
        if value == SENTINEL_USER:
            return Slot("user")
        if value == SENTINEL_PK:
            return Slot("pk")
    if isinstance(value, datetime) and isinstance(other, datetime):
        if other - value == PROBE_STEP:
            return Slot("now", value - now)
    if isinstance(value, str) and isinstance(other, str) and value != other:
        moments = _parse(value), _parse(other)
        if None not in moments and moments[1] - moments[0] == PROBE_STEP:
            return Slot("now_text", _aware(moments[0]) - now)
        return None
    if _same(value, other):
        return Slot("const", value)
    return None


def _same(value: Any, other: Any) -> bool:
    if value == other:
        return True
    # psycopg's Jsonb wraps a JSON parameter without defining equality.
    wrapped = getattr(value, "obj", _same), getattr(other, "obj", _same)
    return (
        type(value) is type(other)
        and wrapped[0] is not _same
        and (wrapped[0] == wrapped[1])
    )


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
