"""The rule builder of the admin: form fields in, a rule out, and back.

The builder shows a rule as nested groups ("match all / any / none of") holding
conditions, each condition as a row of selects and inputs. Every input is named
``b<key>-<name>``, where ``<key>`` locates the node: ``0`` is the root group and
``0-2`` its third child. :func:`read_builder` turns posted fields into a tree and
the tree into a rule; :func:`tree_from_rule` does the reverse. Condition types
that the builder does not know are edited as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.conditions import checks, condition_types, get_condition_type
from omnichannel.segments.conditions.builtin import (
    CONSENT_STATES,
    COUNT_OPERATORS,
    UNIT_LABELS,
    FieldCondition,
)
from omnichannel.segments.conditions.operators import LABELS, NO_VALUE, Field, positive

MATCH_CHOICES = [
    ("all", _("all")),
    ("any", _("any")),
    ("none", _("none")),
]
MONTHS = [(str(number), str(number)) for number in range(1, 13)]
KEY_PATTERN = re.compile(r"^b(\d+(?:-\d+)*)-kind$")
MAX_FILTERS = 10
#: Operators whose JSON value is always text.
TEXT_ONLY = ("contains", "starts_with", "ends_with", "includes")


@dataclass
class Control:
    """One input of a condition row."""

    name: str
    label: Any
    widget: str  # select, multiselect, text, number, date, textarea
    value: Any = ""
    choices: list[tuple[str, Any]] = field(default_factory=list)
    placeholder: Any = ""


@dataclass
class FilterRow:
    """One property filter of an event condition."""

    index: int
    controls: list[Control]


@dataclass
class BuilderNode:
    """A group or a condition of the builder tree."""

    key: str
    kind: str  # group or condition
    match: str = "all"
    children: list[BuilderNode] = field(default_factory=list)
    condition: dict[str, Any] = field(default_factory=dict)
    rule_path: str = ""
    error: str = ""
    controls: list[Control] = field(default_factory=list)
    filters: list[FilterRow] = field(default_factory=list)
    type_choices: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return self.key.count("-")


# Rule <-> tree


def tree_from_rule(rule: Mapping[str, Any]) -> BuilderNode:
    """Return the builder tree of a rule; the root is always a group."""
    root = _node_from_rule(rule, "0")
    if root.kind == "condition":
        root = BuilderNode(key="0", kind="group", match="all", children=[root])
        _rekey(root, "0")
    return root


def _node_from_rule(node: Any, key: str) -> BuilderNode:
    if isinstance(node, Mapping) and ("all" in node or "any" in node):
        match = "all" if "all" in node else "any"
        children = node[match] if isinstance(node[match], list) else []
        return BuilderNode(
            key=key,
            kind="group",
            match=match,
            children=[
                _node_from_rule(child, f"{key}-{i}") for i, child in enumerate(children)
            ],
        )
    if isinstance(node, Mapping) and "not" in node:
        inner = node["not"]
        if (
            isinstance(inner, Mapping)
            and "any" in inner
            and isinstance(inner["any"], list)
        ):
            items = inner["any"]
        else:
            items = [inner]
        return BuilderNode(
            key=key,
            kind="group",
            match="none",
            children=[
                _node_from_rule(child, f"{key}-{i}") for i, child in enumerate(items)
            ],
        )
    return BuilderNode(
        key=key,
        kind="condition",
        condition=dict(node) if isinstance(node, Mapping) else {},
    )


def _rekey(node: BuilderNode, key: str) -> None:
    node.key = key
    for index, child in enumerate(node.children):
        _rekey(child, f"{key}-{index}")


def rule_from_tree(node: BuilderNode, path: str = "") -> dict[str, Any]:
    """Return the rule of a builder tree and record each node's path in the rule."""
    node.rule_path = path
    if node.kind == "condition":
        return node.condition
    if node.match == "none":
        base = checks.child(checks.child(path, "not"), "any")
        children = [
            rule_from_tree(child, checks.item(base, index))
            for index, child in enumerate(node.children)
        ]
        return {"not": {"any": children}}
    base = checks.child(path, node.match)
    children = [
        rule_from_tree(child, checks.item(base, index))
        for index, child in enumerate(node.children)
    ]
    return {node.match: children}


# Posted fields -> tree


def read_builder(data: Mapping[str, Any]) -> BuilderNode | None:
    """Return the builder tree posted in ``data``, or None if there is none."""
    keys = sorted(
        (match.group(1) for name in data if (match := KEY_PATTERN.match(name))),
        key=lambda key: [int(part) for part in key.split("-")],
    )
    if "0" not in keys:
        return None
    nodes: dict[str, BuilderNode] = {}
    for key in keys:
        kind = data.get(f"b{key}-kind")
        if kind == "group":
            match = data.get(f"b{key}-match", "all")
            node = BuilderNode(
                key=key,
                kind="group",
                match=match if match in ("all", "any", "none") else "all",
            )
        else:
            node = BuilderNode(
                key=key, kind="condition", condition=_read_condition(key, data)
            )
        nodes[key] = node
        parent = key.rpartition("-")[0]
        if parent and parent in nodes and nodes[parent].kind == "group":
            nodes[parent].children.append(node)
    root = nodes["0"]
    if root.kind != "group":
        root = BuilderNode(key="0", kind="group", children=[root])
    _rekey(root, "0")
    return root


def _read_condition(key: str, data: Mapping[str, Any]) -> dict[str, Any]:
    prefix = f"b{key}-"
    type_name = data.get(prefix + "type", "")
    if type_name != data.get(prefix + "shown_type", type_name):
        return default_condition(type_name)
    reader = _READERS.get(type_name)
    if reader is None:
        raw = data.get(prefix + "json", "")
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            return {"type": type_name, "_json": raw}
        return parsed if isinstance(parsed, dict) else {"type": type_name, "_json": raw}
    return reader(prefix, data)


def _read_field_condition(key_name: str) -> Any:
    def read(prefix: str, data: Mapping[str, Any]) -> dict[str, Any]:
        type_name = data[prefix + "type"]
        condition_type = get_condition_type(type_name)
        fields = (
            condition_type.fields()
            if isinstance(condition_type, FieldCondition)
            else {}
        )
        name = data.get(prefix + key_name, "")
        node: dict[str, Any] = {"type": type_name, key_name: name}
        spec = fields.get(name)
        op = data.get(prefix + "op", "")
        if spec is None:
            node["op"] = op
            return node
        if op not in spec.operators:
            node["op"] = spec.operators[0]
            return node
        node["op"] = op
        value = _read_value(spec, op, prefix, data)
        if value is not None:
            node["value"] = value
        return node

    return read


def _read_attribute(prefix: str, data: Mapping[str, Any]) -> dict[str, Any]:
    key = data.get(prefix + "key", "").strip()
    spec = Field(key, key, "json")
    op = data.get(prefix + "op", "eq")
    node: dict[str, Any] = {"type": "attribute", "key": key, "op": op}
    if op in spec.operators:
        value = _read_value(spec, op, prefix, data)
        if value is not None:
            node["value"] = value
    return node


def _read_event(prefix: str, data: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "event", "event": data.get(prefix + "event", "")}
    count_value = _number(data.get(prefix + "count_value", "1"))
    node["count"] = {"op": data.get(prefix + "count_op", "gte"), "value": count_value}
    for name in ("within", "excluding_last"):
        amount = data.get(f"{prefix}{name}_value", "").strip()
        if amount:
            node[name] = {
                "value": _number(amount),
                "unit": data.get(f"{prefix}{name}_unit", "days"),
            }
    filters = []
    count = _int(data.get(prefix + "filters", "0"))
    for index in range(min(count, MAX_FILTERS)):
        filter_prefix = f"{prefix}where{index}-"
        if data.get(filter_prefix + "removed"):
            continue
        prop = data.get(filter_prefix + "property", "").strip()
        spec = Field(prop, prop, "json")
        op = data.get(filter_prefix + "op", "eq")
        entry: dict[str, Any] = {"property": prop, "op": op}
        if op in spec.operators:
            value = _read_value(spec, op, filter_prefix, data)
            if value is not None:
                entry["value"] = value
        filters.append(entry)
    if filters:
        node["where"] = filters
    return node


def _read_consent(prefix: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "consent",
        "channel": data.get(prefix + "channel", ""),
        "purpose": data.get(prefix + "purpose", "marketing"),
        "state": data.get(prefix + "state", "granted"),
    }


def _read_segment(prefix: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "segment", "segment": data.get(prefix + "segment", "")}


_READERS = {
    "profile": _read_field_condition("field"),
    "aggregate": _read_field_condition("measure"),
    "rfm": _read_field_condition("field"),
    "prediction": _read_field_condition("field"),
    "attribute": _read_attribute,
    "event": _read_event,
    "consent": _read_consent,
    "segment": _read_segment,
}


def _read_value(spec: Field, op: str, prefix: str, data: Any) -> Any:
    if op in NO_VALUE:
        return None
    base, _negated = positive(op)
    if base == "between":
        low, high = data.get(prefix + "value", ""), data.get(prefix + "value2", "")
        if spec.kind in ("moment", "day"):
            return [low.strip(), high.strip()]
        return [_typed(spec, low), _typed(spec, high)]
    if base == "in":
        if spec.kind == "choice" and hasattr(data, "getlist"):
            return data.getlist(prefix + "value")
        raw = data.get(prefix + "value", "")
        return [_typed(spec, part) for part in raw.split(",") if part.strip()]
    raw = data.get(prefix + "value", "")
    if raw == "" and spec.kind not in ("text",):
        return None
    if op == "month_is":
        return _number(raw)
    if spec.kind == "json" and base in (
        "contains",
        "starts_with",
        "ends_with",
        "includes",
    ):
        return raw
    return _typed(spec, raw)


def _typed(spec: Field, raw: str) -> Any:
    """Convert an input's text to the value type the field compares with."""
    text = raw.strip()
    if spec.kind == "number":
        return _number(text)
    if spec.kind == "json":
        return parse_literal(text)
    if spec.kind == "text":
        return raw
    return text


def parse_literal(text: str) -> Any:
    """Read a JSON value typed in the builder: true, false, a number, or text.

    Quotes force text: ``"42"`` is the string 42.
    """
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    number = _number(text)
    return number if not isinstance(number, str) else text


def _number(text: str) -> Any:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return (
        int(number)
        if number.is_integer() and "." not in text and "e" not in text.lower()
        else number
    )


def _int(text: str) -> int:
    try:
        return max(0, int(text))
    except (TypeError, ValueError):
        return 0


# Actions


def apply_action(root: BuilderNode, action: str) -> None:
    """Apply a button of the builder: ``add-condition:<key>``, ``add-group:<key>``,
    ``remove:<key>``, ``add-filter:<key>``, ``remove-filter:<key>:<index>``."""
    verb, _sep, target = action.partition(":")
    if verb == "remove-filter":
        key, _sep, index = target.partition(":")
        node = _find(root, key)
        where = node.condition.get("where") if node else None
        if isinstance(where, list) and index.isdigit() and int(index) < len(where):
            del where[int(index)]
            if not where:
                node.condition.pop("where")
        return
    node = _find(root, target)
    if node is None:
        return
    if verb == "add-condition" and node.kind == "group":
        node.children.append(
            BuilderNode(
                key="", kind="condition", condition=default_condition("profile")
            )
        )
    elif verb == "add-group" and node.kind == "group":
        node.children.append(BuilderNode(key="", kind="group", match="any"))
    elif verb == "remove" and node.key != "0":
        parent = _find(root, node.key.rpartition("-")[0])
        if parent is not None:
            parent.children.remove(node)
    elif verb == "add-filter" and node.kind == "condition":
        where = node.condition.setdefault("where", [])
        if len(where) < MAX_FILTERS:
            where.append({"property": "", "op": "eq", "value": ""})
    _rekey(root, "0")


def _find(node: BuilderNode, key: str) -> BuilderNode | None:
    if node.key == key:
        return node
    for child in node.children:
        found = _find(child, key)
        if found is not None:
            return found
    return None


def default_condition(type_name: str) -> dict[str, Any]:
    """Return the condition a new row of this type starts with."""
    defaults: dict[str, dict[str, Any]] = {
        "profile": {"type": "profile", "field": "country", "op": "eq", "value": ""},
        "aggregate": {
            "type": "aggregate",
            "measure": "total_spent",
            "op": "gte",
            "value": 100,
        },
        "attribute": {"type": "attribute", "key": "", "op": "eq", "value": ""},
        "event": {
            "type": "event",
            "event": "product_viewed",
            "count": {"op": "gte", "value": 1},
            "within": {"value": 30, "unit": "days"},
        },
        "rfm": {"type": "rfm", "field": "group", "op": "eq", "value": "champions"},
        "consent": {
            "type": "consent",
            "channel": "email",
            "purpose": "marketing",
            "state": "granted",
        },
        "segment": {"type": "segment", "segment": ""},
    }
    if type_name in defaults:
        return dict(defaults[type_name])
    condition_type = get_condition_type(type_name)
    if isinstance(condition_type, FieldCondition) and condition_type.fields():
        name, spec = next(iter(condition_type.fields().items()))
        return {
            "type": type_name,
            condition_type.field_key: name,
            "op": spec.operators[0],
        }
    return {"type": type_name}


# Tree -> controls for rendering


def prepare(
    root: BuilderNode, error: InvalidRule | None, segment_choices: list[tuple[str, str]]
) -> None:
    """Fill in the controls of every node and attach ``error`` to its node."""
    rule_from_tree(root)
    type_choices = [
        (name, condition_type.label)
        for name, condition_type in condition_types().items()
        if condition_type.is_available()
    ]
    for node in _walk(root):
        if node.kind == "condition":
            node.type_choices = type_choices
            node.controls, node.filters = _controls(node.condition, segment_choices)
    if error is not None:
        target = _node_for_path(root, error.path)
        target.error = error.message


def _walk(node: BuilderNode) -> list[BuilderNode]:
    nodes = [node]
    for child in node.children:
        nodes += _walk(child)
    return nodes


def _node_for_path(root: BuilderNode, path: str) -> BuilderNode:
    best = root
    for node in _walk(root):
        if node.rule_path and (
            path == node.rule_path
            or path.startswith(node.rule_path + ".")
            or path.startswith(node.rule_path + "[")
        ):
            if len(node.rule_path) > len(best.rule_path):
                best = node
    return best


def _controls(
    condition: dict[str, Any], segment_choices: list[tuple[str, str]]
) -> tuple[list[Control], list[FilterRow]]:
    type_name = condition.get("type", "")
    condition_type = get_condition_type(type_name)
    if type_name == "attribute":
        spec = Field(condition.get("key", ""), "", "json")
        key = Control(
            "key",
            _("key"),
            "text",
            condition.get("key", ""),
            placeholder=_("favourite_category"),
        )
        return [key, *_comparison_controls(spec, condition, "")], []
    if isinstance(condition_type, FieldCondition) and type_name in _READERS:
        key_name = condition_type.field_key
        fields = condition_type.fields()
        choice = Control(
            key_name,
            condition_type.label,
            "select",
            condition.get(key_name, ""),
            [(name, spec.label) for name, spec in fields.items()],
        )
        spec = fields.get(condition.get(key_name, ""))
        if spec is None:
            return [choice], []
        return [choice, *_comparison_controls(spec, condition, "")], []
    if type_name == "event":
        return _event_controls(condition)
    if type_name == "consent":
        model = condition_type._model()  # type: ignore[union-attr]
        return [
            Control(
                "channel",
                _("channel"),
                "select",
                condition.get("channel", ""),
                list(model._meta.get_field("channel").choices),
            ),
            Control(
                "purpose",
                _("purpose"),
                "select",
                condition.get("purpose", "marketing"),
                list(model._meta.get_field("purpose").choices),
            ),
            Control(
                "state",
                _("state"),
                "select",
                condition.get("state", ""),
                list(CONSENT_STATES.items()),
            ),
        ], []
    if type_name == "segment":
        return [
            Control(
                "segment",
                _("segment"),
                "select",
                condition.get("segment", ""),
                [("", "---------"), *segment_choices],
            )
        ], []
    text = condition.get("_json") or json.dumps(condition, indent=1, ensure_ascii=False)
    return [Control("json", _("condition as JSON"), "textarea", text)], []


def _comparison_controls(
    spec: Field, condition: Mapping[str, Any], name_prefix: str
) -> list[Control]:
    op = condition.get("op", "")
    operator = Control(
        name_prefix + "op",
        _("operator"),
        "select",
        op,
        [(name, LABELS[name]) for name in spec.operators],
    )
    if op in NO_VALUE or op not in spec.operators:
        return [operator]

    return [
        operator,
        *_value_controls(spec, op, condition.get("value", ""), name_prefix),
    ]


def _value_controls(
    spec: Field, op: str, value: Any, name_prefix: str
) -> list[Control]:
    base, _negated = positive(op)
    name = name_prefix + "value"
    widget = {"number": "number", "day": "date"}.get(spec.kind, "text")
    placeholder = _placeholder(spec, base)

    if base == "between":
        low, high = (value + ["", ""])[:2] if isinstance(value, list) else ("", "")
        return [
            Control(name, _("from"), widget, _input_text(low), placeholder=placeholder),
            Control(
                name_prefix + "value2",
                _("to"),
                widget,
                _input_text(high),
                placeholder=placeholder,
            ),
        ]
    if op == "month_is":
        return [Control(name, _("month"), "select", str(value), MONTHS)]
    if spec.kind == "choice" and base == "in":
        selected = value if isinstance(value, list) else []
        return [Control(name, _("values"), "multiselect", selected, spec.choices)]
    if spec.kind == "choice":
        return [Control(name, _("value"), "select", value, spec.choices)]
    if base == "in":
        items = value if isinstance(value, list) else [value]
        text = ", ".join(_input_text(item) for item in items)
        label = _("values, separated by commas")
        return [Control(name, label, "text", text, placeholder=placeholder)]

    text = _input_text(value, spec.kind == "json")
    return [Control(name, _("value"), widget, text, placeholder=placeholder)]


def _placeholder(spec: Field, base: str) -> Any:
    if spec.kind == "moment":
        return _("2026-12-24 or 2026-12-24T18:00:00+01:00")
    if spec.kind == "json" and base not in TEXT_ONLY:
        return _('text, a number, true or false; "42" for the text 42')
    return ""


def _input_text(value: Any, literal: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if literal and isinstance(value, str) and parse_literal(value) != value:
        return f'"{value}"'
    return "" if value is None else str(value)


def _event_controls(condition: dict[str, Any]) -> tuple[list[Control], list[FilterRow]]:
    from omnichannel.profiles.events import known_event_types

    count = condition.get("count") or {"op": "gte", "value": 1}
    units = list(UNIT_LABELS.items())
    within = condition.get("within") or {}
    excluding = condition.get("excluding_last") or {}
    controls = [
        Control(
            "event",
            _("event"),
            "select",
            condition.get("event", ""),
            [(name, name) for name in sorted(known_event_types())],
        ),
        Control(
            "count_op",
            _("count"),
            "select",
            count.get("op", "gte"),
            [(op, LABELS[op]) for op in COUNT_OPERATORS],
        ),
        Control(
            "count_value", _("times"), "number", _input_text(count.get("value", 1))
        ),
        Control(
            "within_value",
            _("in the last"),
            "number",
            _input_text(within.get("value", "")),
            placeholder=_("ever"),
        ),
        Control("within_unit", _("unit"), "select", within.get("unit", "days"), units),
        Control(
            "excluding_last_value",
            _("except the last"),
            "number",
            _input_text(excluding.get("value", "")),
        ),
        Control(
            "excluding_last_unit",
            _("unit"),
            "select",
            excluding.get("unit", "hours"),
            units,
        ),
    ]
    rows = []
    for index, entry in enumerate(condition.get("where") or []):
        spec = Field(entry.get("property", ""), "", "json")
        prefix = f"where{index}-"
        rows.append(
            FilterRow(
                index,
                [
                    Control(
                        prefix + "property",
                        _("property"),
                        "text",
                        entry.get("property", ""),
                        placeholder=_("category"),
                    ),
                    *_comparison_controls(spec, entry, prefix),
                ],
            )
        )
    return controls, rows
