"""Comparisons on a value inside a JSON column, the same in SQL and in Python.

SQLite and PostgreSQL disagree on JSON types: SQLite's ``json_extract`` turns
``true`` into ``1`` and compares text above every number, PostgreSQL's ``jsonb``
orders strings below numbers and never casts. So every comparison first checks the
stored value's JSON type and only then compares, and yields FALSE (never NULL) when
the value is missing or of another type. Python follows the same rules in
:func:`json_matches`: a string never equals a number, ``true`` never equals ``1``, and
``gt`` is true only between numbers.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import NotSupportedError
from django.db.models import BooleanField, Expression, F

#: The stored value is absent (the key does not exist, or the column is not an object).
MISSING = object()

_SQLITE_TYPES = {
    "text": "string",
    "integer": "number",
    "real": "number",
    "true": "boolean",
    "false": "boolean",
    "null": "null",
    "array": "array",
    "object": "object",
}


def json_type(value: Any) -> str:
    """Return the JSON type name of a Python value as loaded from JSON."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def lookup_key(container: Any, key: str | None) -> Any:
    """Return ``container[key]``, or MISSING; ``key=None`` returns the container."""
    if key is None:
        return container
    if isinstance(container, dict) and key in container:
        return container[key]
    return MISSING


def json_matches(actual: Any, op: str, value: Any) -> bool:
    """Tell whether a stored JSON value meets a positive operator."""
    kind = json_type(actual)
    if op == "is_set":
        return kind not in ("missing", "null")
    if op == "eq":
        return _equal(actual, kind, value)
    if op == "in":
        return any(_equal(actual, kind, option) for option in value)
    if op in ("gt", "gte", "lt", "lte", "between"):
        if kind != "number":
            return False
        if op == "between":
            return value[0] <= actual <= value[1]
        return _compare(actual, op, value)
    if op in ("contains", "starts_with", "ends_with"):
        if kind != "string":
            return False
        if op == "contains":
            return value in actual
        if op == "starts_with":
            return actual.startswith(value)
        return actual.endswith(value)
    if op == "includes":
        return kind == "array" and any(
            isinstance(element, str) and element == value for element in actual
        )
    raise ValueError(f"Unknown JSON operator {op!r}.")


def _equal(actual: Any, kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return kind == "boolean" and actual is value
    if isinstance(value, int | float):
        return kind == "number" and actual == value
    return kind == "string" and actual == value


def _compare(actual: Any, op: str, value: Any) -> bool:
    if op == "gt":
        return actual > value
    if op == "gte":
        return actual >= value
    if op == "lt":
        return actual < value
    return actual <= value


class JSONMatch(Expression):
    """A boolean SQL expression for ``json_matches`` on ``column[key]``.

    ``key=None`` compares the column's whole value. The expression is TRUE or FALSE
    for every row, so ``NOT`` inverts it exactly.
    """

    conditional = True

    def __init__(
        self,
        column: str | Any,
        key: str | None,
        op: str,
        value: Any,
        *,
        negated: bool = False,
        null_as_false: bool = False,
    ) -> None:
        super().__init__(output_field=BooleanField())
        self.column = F(column) if isinstance(column, str) else column
        self.key = key
        self.op = op
        self.value = value
        self.negated = negated
        # In a WHERE clause that is never negated from outside, NULL filters a row
        # out as FALSE does, and a plain comparison is cheaper and better estimated.
        self.null_as_false = null_as_false and not negated

    def __repr__(self) -> str:
        return f"JSONMatch({self.column!r}, {self.key!r}, {self.op!r}, {self.value!r})"

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, expressions: list[Any]) -> None:
        (self.column,) = expressions

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        raise NotSupportedError(
            "Conditions on JSON values support SQLite and PostgreSQL, not "
            f"{connection.vendor}."
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column_sql, column_params = compiler.compile(self.column)
        dialect = _SQLiteDialect(column_sql, column_params, self.key)
        return self._finish(_Builder(dialect).build(self.op, self.value))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        column_sql, column_params = compiler.compile(self.column)
        dialect = _PostgresDialect(
            column_sql, column_params, self.key, null_as_false=self.null_as_false
        )
        return self._finish(_Builder(dialect).build(self.op, self.value))

    def _finish(self, compiled: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
        sql, params = compiled
        return (f"(NOT {sql})" if self.negated else sql), params


class _SQLiteDialect:
    def __init__(self, column: str, params: Any, key: str | None) -> None:
        self.column = column
        self.params = list(params)
        # Keys are checked against a pattern without quotes or backslashes.
        self.path = "$" if key is None else f'$."{key}"'

    def type(self) -> tuple[str, list[Any]]:
        branches = " ".join(
            f"WHEN '{raw}' THEN '{name}'" for raw, name in _SQLITE_TYPES.items()
        )
        sql = f"(CASE json_type({self.column}, %s) {branches} ELSE 'missing' END)"
        return sql, [*self.params, self.path]

    def text(self) -> tuple[str, list[Any]]:
        return f"json_extract({self.column}, %s)", [*self.params, self.path]

    number = text

    def is_true(self, value: bool) -> tuple[str, list[Any]]:
        sql = f"COALESCE(json_type({self.column}, %s) = %s, FALSE)"
        return sql, [*self.params, self.path, "true" if value else "false"]

    def includes(self, value: str) -> tuple[str, list[Any]]:
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({self.column}, %s) AS element "
            "WHERE element.type = 'text' AND element.value = %s)"
        )
        return sql, [*self.params, self.path, value]

    def ends_with(self, text_sql: str, length: int) -> str:
        return f"substr({text_sql}, -{length})"


class _PostgresDialect:
    def __init__(
        self, column: str, params: Any, key: str | None, *, null_as_false: bool = False
    ) -> None:
        self.column = column
        self.params = list(params)
        self.key = key
        self.null_as_false = null_as_false

    def _value(self) -> tuple[str, list[Any]]:
        if self.key is None:
            return f"({self.column})", list(self.params)
        return f"({self.column} -> %s)", [*self.params, self.key]

    def type(self) -> tuple[str, list[Any]]:
        sql, params = self._value()
        return f"COALESCE(jsonb_typeof({sql}), 'missing')", params

    def text(self) -> tuple[str, list[Any]]:
        if self.key is None:
            return f"({self.column} #>> '{{}}')", list(self.params)
        return f"({self.column} ->> %s)", [*self.params, self.key]

    def number(self) -> tuple[str, list[Any]]:
        sql, params = self.text()
        return f"({sql})::numeric", params

    def is_true(self, value: bool) -> tuple[str, list[Any]]:
        return self.equals(value)

    def equals(self, value: Any) -> tuple[str, list[Any]]:
        # jsonb equality already compares types: '1' = '1.0' but '1' <> '"1"' and
        # '1' <> 'true', as in json_matches.
        sql, params = self._value()
        params = [*params, json.dumps(value)]
        if self.null_as_false:
            return f"({sql} = %s::jsonb)", params
        return f"COALESCE({sql} = %s::jsonb, FALSE)", params

    def includes(self, value: str) -> tuple[str, list[Any]]:
        sql, params = self._value()
        return f"({sql} @> jsonb_build_array(%s::text))", [*params, value]

    def ends_with(self, text_sql: str, length: int) -> str:
        return f"right({text_sql}, {length})"


class _Builder:
    """Write the SQL of one positive operator; every branch is guarded by type."""

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect

    def build(self, op: str, value: Any) -> tuple[str, list[Any]]:
        if op == "is_set":
            type_sql, params = self.dialect.type()
            return f"({type_sql} NOT IN ('missing', 'null'))", params
        if op == "eq":
            return self._equal(value)
        if op == "in":
            parts = [self._equal(option) for option in value]
            return (
                "(" + " OR ".join(sql for sql, _ in parts) + ")",
                [param for _, params in parts for param in params],
            )
        if op in ("gt", "gte", "lt", "lte"):
            symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            return self._number(f"{{x}} {symbol} %s", [value])
        if op == "between":
            return self._number("{x} BETWEEN %s AND %s", list(value))
        if op == "contains":
            return self._string("{contains}", [value])
        if op == "starts_with":
            return self._string(f"substr({{x}}, 1, {len(value)}) = %s", [value])
        if op == "ends_with":
            return self._string("{ends} = %s", [value], ends=len(value))
        if op == "includes":
            inner, params = self.dialect.includes(value)
            return self._guard("array", inner, params)
        raise ValueError(f"Unknown JSON operator {op!r}.")

    def _guard(self, kind: str, inner: str, params: list[Any]) -> tuple[str, list[Any]]:
        type_sql, type_params = self.dialect.type()
        sql = f"(CASE WHEN {type_sql} = %s THEN ({inner}) ELSE FALSE END)"
        return sql, [*type_params, kind, *params]

    def _equal(self, value: Any) -> tuple[str, list[Any]]:
        if hasattr(self.dialect, "equals"):
            return self.dialect.equals(value)
        if isinstance(value, bool):
            return self.dialect.is_true(value)
        if isinstance(value, int | float):
            return self._number("{x} = %s", [value])
        return self._string("{x} = %s", [value])

    def _number(self, template: str, values: list[Any]) -> tuple[str, list[Any]]:
        number_sql, params = self.dialect.number()
        inner = template.replace("{x}", number_sql)
        return self._guard("number", inner, [*params, *values])

    def _string(
        self, template: str, values: list[Any], ends: int = 0
    ) -> tuple[str, list[Any]]:
        text_sql, params = self.dialect.text()
        if "{contains}" in template:
            function = "instr" if isinstance(self.dialect, _SQLiteDialect) else "strpos"
            inner = f"{function}({text_sql}, %s) > 0"
            return self._guard("string", inner, [*params, *values])
        if ends:
            inner = template.replace("{ends}", self.dialect.ends_with(text_sql, ends))
            return self._guard("string", inner, [*params, *values])
        return self._guard(
            "string", template.replace("{x}", text_sql), [*params, *values]
        )
