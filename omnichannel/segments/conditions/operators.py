"""Operators of the condition language: which apply to which kind of value, how their
values are checked, and how each compiles to SQL and evaluates in Python.

Every negative operator (``ne``, ``not_in``, ...) is the logical NOT of a positive one,
in SQL and in Python alike, so a missing value (NULL, no row) fails the positive
operator and passes its negation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, F, Func, Q, Value
from django.db.models.functions import Right, StrIndex, Substr
from django.db.models.lookups import Exact, GreaterThan
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.conditions import checks
from omnichannel.segments.conditions.jsonmatch import JSONMatch, json_matches

LABELS = {
    "eq": _("is"),
    "ne": _("is not"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "contains": _("contains"),
    "not_contains": _("does not contain"),
    "starts_with": _("starts with"),
    "ends_with": _("ends with"),
    "is_set": _("is set"),
    "is_not_set": _("is not set"),
    "gt": _("is more than"),
    "gte": _("is at least"),
    "lt": _("is less than"),
    "lte": _("is at most"),
    "between": _("is between"),
    "not_between": _("is not between"),
    "before": _("is before"),
    "after": _("is after"),
    "month_is": _("falls in month"),
    "this_month": _("falls in the current month"),
    "includes": _("includes"),
    "excludes": _("does not include"),
}

#: Negative operator -> the positive operator it negates.
NEGATIONS = {
    "ne": "eq",
    "not_in": "in",
    "not_contains": "contains",
    "not_between": "between",
    "is_not_set": "is_set",
    "excludes": "includes",
}

#: Operators by kind of value, in the order the rule builder lists them.
KIND_OPERATORS: dict[str, tuple[str, ...]] = {
    "text": (
        "eq",
        "ne",
        "in",
        "not_in",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "is_set",
        "is_not_set",
    ),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "between", "not_between"),
    "choice": ("eq", "ne", "in", "not_in"),
    "moment": ("before", "after", "between", "not_between", "is_set", "is_not_set"),
    "day": (
        "before",
        "after",
        "between",
        "not_between",
        "month_is",
        "this_month",
        "is_set",
        "is_not_set",
    ),
    "json": (
        "eq",
        "ne",
        "in",
        "not_in",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "not_between",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "includes",
        "excludes",
        "is_set",
        "is_not_set",
    ),
    "tags": ("includes", "excludes"),
}

#: Operators that take no ``value``.
NO_VALUE = frozenset({"is_set", "is_not_set", "this_month"})
#: Operators whose result changes with the clock.
TIME_OPERATORS = frozenset({"this_month"})


def positive(op: str) -> tuple[str, bool]:
    """Return the positive operator behind ``op`` and whether ``op`` negates it."""
    if op in NEGATIONS:
        return NEGATIONS[op], True
    return op, False


class Field:
    """One comparable value of a condition type: a column, or a key in a JSON column.

    ``kind`` picks the operators; ``integer``, ``minimum`` and ``maximum`` bound the
    numbers a rule may compare with; ``choices`` lists the allowed values of a
    ``choice`` field. A ``json`` field compares the value under ``key`` inside the
    JSON ``column``; Python callers pass that value (or ``MISSING``) as ``actual``.
    """

    def __init__(
        self,
        name: str,
        label: Any,
        kind: str,
        *,
        column: str | None = None,
        integer: bool = False,
        decimal_places: int | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        choices: Any = None,
        key: str | None = None,
    ) -> None:
        self.name = name
        self.key = key
        self.label = label
        self.kind = kind
        self.column = column or name
        self.integer = integer
        self.decimal_places = decimal_places
        self.minimum = minimum
        self.maximum = maximum
        self._choices = choices

    @property
    def operators(self) -> tuple[str, ...]:
        return KIND_OPERATORS[self.kind]

    @property
    def choices(self) -> list[tuple[str, Any]]:
        choices = self._choices() if callable(self._choices) else self._choices
        return list(choices or [])

    # Validation

    def check(self, node: Mapping[str, Any], path: str) -> None:
        """Check ``op`` and ``value`` of ``node`` for this field."""
        op = checks.check_choice(
            node.get("op"), checks.child(path, "op"), self.operators
        )
        value_path = checks.child(path, "value")
        if op in NO_VALUE:
            if "value" in node:
                raise InvalidRule(value_path, f"is not used with operator {op!r}.")
            return
        if "value" not in node:
            raise InvalidRule(value_path, "is required.")
        self.check_value(positive(op)[0], node["value"], value_path)

    def check_value(self, op: str, value: Any, path: str) -> None:
        kind = self.kind
        if op == "between":
            if kind == "moment":
                self._pair(value, path, checks.check_moment)
            elif kind == "day":
                self._pair(value, path, checks.check_day)
            else:
                checks.check_range(value, path, **self._number_bounds())
            return
        if op == "in":
            for index, option in enumerate(checks.check_list(value, path)):
                self.check_value("eq", option, checks.item(path, index))
            return
        if kind == "text":
            checks.check_text(value, path, allow_empty=op == "eq")
        elif kind == "number":
            checks.check_number(value, path, **self._number_bounds())
        elif kind == "choice":
            checks.check_choice(value, path, [key for key, _label in self.choices])
        elif kind == "moment":
            checks.check_moment(value, path)
        elif kind == "day":
            if op == "month_is":
                checks.check_number(value, path, integer=True, minimum=1, maximum=12)
            else:
                checks.check_day(value, path)
        elif kind == "tags":
            checks.check_text(value, path)
        elif kind == "json":
            self._check_json_value(op, value, path)

    def _number_bounds(self) -> dict[str, Any]:
        return {
            "integer": self.integer,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }

    @staticmethod
    def _pair(value: Any, path: str, check: Any) -> tuple[Any, Any]:
        if not isinstance(value, list) or len(value) != 2:
            raise InvalidRule(path, "must be a list of two values, [from, to].")
        low = check(value[0], checks.item(path, 0))
        high = check(value[1], checks.item(path, 1))
        if low > high:
            raise InvalidRule(
                path, f"the start {value[0]!r} is after the end {value[1]!r}."
            )
        return low, high

    @staticmethod
    def _check_json_value(op: str, value: Any, path: str) -> None:
        if op == "eq":
            if isinstance(value, bool):
                return
            if isinstance(value, int | float):
                checks.check_number(value, path)
                return
            if isinstance(value, str):
                checks.check_text(value, path, allow_empty=True)
                return
            raise InvalidRule(path, "must be a string, a number or true/false.")
        if op in ("gt", "gte", "lt", "lte"):
            checks.check_number(value, path)
            return
        checks.check_text(value, path)

    # Compilation and evaluation of a column on the model being filtered

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        """Return the ``Q`` of ``node`` on this field of the model being filtered."""
        op, negated = positive(node["op"])
        query = self.positive_q(op, node.get("value"), now)
        return ~query if negated else query

    def filter_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        """Return the ``Q`` of ``node`` for a filter that is never negated from
        outside, such as the event filters inside a subquery."""
        if self.kind != "json":
            return self.to_q(node, now)
        op, negated = positive(node["op"])
        match = JSONMatch(
            self.column,
            self.key,
            op,
            node.get("value"),
            negated=negated,
            null_as_false=True,
        )
        return Q(match)

    def matches(self, node: Mapping[str, Any], actual: Any, now: datetime) -> bool:
        """Tell whether ``actual``, the stored value, meets ``node``."""
        op, negated = positive(node["op"])
        result = self.positive_match(op, node.get("value"), actual, now)
        return not result if negated else result

    def positive_q(self, op: str, value: Any, now: datetime) -> Q:
        """Return the ``Q`` of a positive operator on this field."""
        column = self.column
        kind = self.kind
        if kind == "json":
            return Q(JSONMatch(column, self.key, op, value))
        if kind == "tags":
            return Q(JSONMatch(column, None, op, value))
        if kind == "text":
            return _text_q(column, op, value)
        if kind == "number":
            return self._number_q(column, op, value)
        if kind == "choice":
            return Q(**{f"{column}__in": value}) if op == "in" else Q(**{column: value})
        if kind in ("moment", "day"):
            return self._time_q(column, op, value, now)
        raise ValueError(f"Unknown field kind {kind!r}.")

    def _number_q(self, column: str, op: str, value: Any) -> Q:
        if self.decimal_places is None:
            if op == "between":
                return Q(**{f"{column}__gte": value[0], f"{column}__lte": value[1]})
            return Q(**{f"{column}__{'exact' if op == 'eq' else op}": value})
        # Python reads decimal columns rounded to the field's places, and SQLite may
        # store more digits than that (a REAL from a division), so SQL rounds too.
        stored = StoredDecimal(F(column), self.decimal_places)

        def compare(lookup: str, number: Any) -> Q:
            right = Value(checks.to_decimal(number), output_field=DecimalField())
            return Q(_LOOKUPS[lookup](stored, right))

        if op == "between":
            return compare("gte", value[0]) & compare("lte", value[1])
        return compare(op, value)

    def _time_q(self, column: str, op: str, value: Any, now: datetime) -> Q:
        if op == "is_set":
            return Q(**{f"{column}__isnull": False})
        if op == "month_is":
            return Q(**{f"{column}__month": value})
        if op == "this_month":
            return Q(
                **{
                    f"{column}__month": timezone.localtime(
                        now, checks.shop_zone()
                    ).month
                }
            )
        parse = checks.parse_moment if self.kind == "moment" else _parse_day
        if op == "between":
            return Q(
                **{f"{column}__gte": parse(value[0]), f"{column}__lte": parse(value[1])}
            )
        lookup = "lt" if op == "before" else "gt"
        return Q(**{f"{column}__{lookup}": parse(value)})

    def positive_match(self, op: str, value: Any, actual: Any, now: datetime) -> bool:
        """Tell whether ``actual`` meets a positive operator."""
        kind = self.kind
        if kind == "json":
            return json_matches(actual, op, value)
        if kind == "tags":
            return json_matches(actual, op, value)
        if actual is None:
            return False
        if kind == "text":
            return _text_match(actual, op, value)
        if kind == "choice":
            return actual in value if op == "in" else actual == value
        if kind == "number":
            return _number_match(actual, op, value)
        if op == "is_set":
            return True
        if op == "month_is":
            return actual.month == value
        if op == "this_month":
            return actual.month == timezone.localtime(now, checks.shop_zone()).month
        parse = checks.parse_moment if kind == "moment" else _parse_day
        if op == "between":
            return parse(value[0]) <= actual <= parse(value[1])
        if op == "before":
            return actual < parse(value)
        return actual > parse(value)


class StoredDecimal(Func):
    """A decimal column as Python reads it: rounded to its places on SQLite."""

    output_field = DecimalField()

    def __init__(self, expression: Any, places: int) -> None:
        super().__init__(expression)
        self.places = places

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return compiler.compile(self.source_expressions[0])

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(ROUND({sql}, {int(self.places)}) AS NUMERIC)", params


def _lookup_classes() -> dict[str, Any]:
    from django.db.models import lookups

    return {
        "eq": lookups.Exact,
        "gt": lookups.GreaterThan,
        "gte": lookups.GreaterThanOrEqual,
        "lt": lookups.LessThan,
        "lte": lookups.LessThanOrEqual,
    }


_LOOKUPS = _lookup_classes()


def _text_q(column: str, op: str, value: Any) -> Q:
    # LIKE ignores ASCII case on SQLite but not on PostgreSQL, so substring tests
    # use instr/strpos and substr, which compare exactly on both.
    if op == "eq":
        return Q(**{column: value})
    if op == "in":
        return Q(**{f"{column}__in": value})
    if op == "is_set":
        return ~Q(**{column: ""})
    if op == "contains":
        return Q(GreaterThan(StrIndex(F(column), Value(value)), 0))
    if op == "starts_with":
        return Q(Exact(Substr(F(column), 1, len(value)), Value(value)))
    if op == "ends_with":
        return Q(Exact(Right(F(column), len(value)), Value(value)))
    raise ValueError(f"Unknown text operator {op!r}.")


def _text_match(actual: str, op: str, value: Any) -> bool:
    if op == "eq":
        return actual == value
    if op == "in":
        return actual in value
    if op == "is_set":
        return actual != ""
    if op == "contains":
        return value in actual
    if op == "starts_with":
        return actual.startswith(value)
    if op == "ends_with":
        return actual.endswith(value)
    raise ValueError(f"Unknown text operator {op!r}.")


def _number_match(actual: Any, op: str, value: Any) -> bool:
    def convert(number: Any) -> Any:
        return checks.to_decimal(number) if isinstance(actual, Decimal) else number

    if op == "between":
        return convert(value[0]) <= actual <= convert(value[1])
    target = convert(value)
    return {
        "eq": actual == target,
        "gt": actual > target,
        "gte": actual >= target,
        "lt": actual < target,
        "lte": actual <= target,
    }[op]


def _parse_day(value: str) -> date:
    return date.fromisoformat(value)
