"""The rule tree: validation, compilation to one ``Q``, evaluation and explanation.

A node is either a group, ``{"all": [nodes]}``, ``{"any": [nodes]}`` or
``{"not": node}``, or a leaf ``{"type": NAME, ...}`` handled by a registered
condition type. ``{"all": []}`` matches every profile and ``{"any": []}`` none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.conditions import checks
from omnichannel.segments.conditions.base import (
    Dependencies,
    Evaluation,
    Explanation,
    get_condition_type,
)

if TYPE_CHECKING:
    from omnichannel.profiles.models import Profile

MAX_DEPTH = 10
MAX_CONDITIONS = 200
GROUP_KEYS = ("all", "any", "not")

#: A Q that no row meets; Django turns an empty IN into a false condition.
NOTHING = Q(pk__in=[])
#: A Q that every row meets.
EVERYTHING = Q(pk__isnull=False)


class Validation:
    """State of one validation: the segment the rule belongs to, and counters."""

    def __init__(self, segment: Any = None) -> None:
        self.segment = segment
        self.conditions = 0


def validate(rule: Any, *, segment: Any = None) -> None:
    """Raise InvalidRule, naming the path inside ``rule``, if it is not valid.

    ``segment`` is the Segment the rule belongs to, saved or not. References to
    segments that do not exist are rejected, and so are references that lead back to
    ``segment``.
    """
    if not isinstance(rule, Mapping):
        raise InvalidRule("", 'must be an object such as {"all": [...]}.')
    context = Validation(segment)
    _validate_node(rule, "", 0, context)
    if segment is not None:
        from omnichannel.segments.graph import check_no_cycle

        check_no_cycle(rule, segment)


def _validate_node(node: Any, path: str, depth: int, context: Validation) -> None:
    if not isinstance(node, Mapping):
        raise InvalidRule(path, "must be an object: a condition or all/any/not.")
    if depth > MAX_DEPTH:
        raise InvalidRule(path, f"nests deeper than {MAX_DEPTH} levels.")
    groups = [key for key in GROUP_KEYS if key in node]
    if groups:
        key = groups[0]
        if len(node) != 1:
            extra = sorted(set(node) - {key})[0]
            raise InvalidRule(
                checks.child(path, extra),
                f"cannot stand beside {key!r}; a group has exactly one key.",
            )
        if key == "not":
            _validate_node(node["not"], checks.child(path, "not"), depth + 1, context)
            return
        children = node[key]
        if not isinstance(children, list):
            raise InvalidRule(checks.child(path, key), "must be a list of conditions.")
        for index, child in enumerate(children):
            child_path = checks.item(checks.child(path, key), index)
            _validate_node(child, child_path, depth + 1, context)
        return

    if "type" not in node:
        raise InvalidRule(
            path, "must have a 'type' (a condition) or one of 'all', 'any', 'not'."
        )
    type_path = checks.child(path, "type")
    condition_type = (
        get_condition_type(node["type"]) if isinstance(node["type"], str) else None
    )
    if condition_type is None:
        from omnichannel.segments.conditions.base import condition_types

        names = ", ".join(sorted(condition_types()))
        raise InvalidRule(
            type_path, f"{node['type']!r} is not a condition type; use {names}."
        )
    if not condition_type.is_available():
        raise InvalidRule(
            type_path,
            f"the {node['type']!r} condition needs a model that is not installed.",
        )
    context.conditions += 1
    if context.conditions > MAX_CONDITIONS:
        raise InvalidRule(path, f"the rule has more than {MAX_CONDITIONS} conditions.")
    condition_type.validate(node, path, context)


def compile_rule(rule: Mapping[str, Any], now: datetime | None = None) -> Q:
    """Return one ``Q`` over Profile for the profiles that meet ``rule`` at ``now``.

    The rule must be valid; call :func:`validate` first on untrusted input.
    """
    return _compile(rule, now or timezone.now())


def _compile(node: Mapping[str, Any], now: datetime) -> Q:
    if "all" in node:
        if not node["all"]:
            return EVERYTHING
        query = _compile(node["all"][0], now)
        for child in node["all"][1:]:
            query &= _compile(child, now)
        return query
    if "any" in node:
        if not node["any"]:
            return NOTHING
        query = _compile(node["any"][0], now)
        for child in node["any"][1:]:
            query |= _compile(child, now)
        return query
    if "not" in node:
        return ~_compile(node["not"], now)
    return _leaf_type(node).to_q(node, now)


def evaluate(
    rule: Mapping[str, Any],
    profile: Profile,
    now: datetime | None = None,
    context: Mapping[str, Any] | None = None,
    *,
    evaluation: Evaluation | None = None,
) -> bool:
    """Tell whether ``profile`` meets ``rule`` at ``now``, evaluated in Python.

    ``context`` carries facts for condition types that need more than the profile,
    such as the enrollment a journey branch runs for. Pass ``evaluation`` to share
    loaded facts between several rules for the same profile.
    """
    if evaluation is None:
        evaluation = Evaluation(profile, now or timezone.now(), context)
    return _evaluate(rule, evaluation)


def _evaluate(node: Mapping[str, Any], evaluation: Evaluation) -> bool:
    if "all" in node:
        return all(_evaluate(child, evaluation) for child in node["all"])
    if "any" in node:
        return any(_evaluate(child, evaluation) for child in node["any"])
    if "not" in node:
        return not _evaluate(node["not"], evaluation)
    return _leaf_type(node).evaluate(node, evaluation)


def explain(
    rule: Mapping[str, Any],
    profile: Profile,
    now: datetime | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[Explanation]:
    """Return every node of ``rule`` in order with its result for ``profile``.

    Each :class:`Explanation` has the node's path, its depth, the condition in words,
    its result and the fact behind it (the stored value, the number of events).
    Unlike :func:`evaluate`, every condition is evaluated, not only until the
    result is known.
    """
    evaluation = Evaluation(profile, now or timezone.now(), context)
    lines: list[Explanation] = []
    _explain(rule, "", 0, evaluation, lines)
    return lines


def _explain(
    node: Mapping[str, Any],
    path: str,
    depth: int,
    evaluation: Evaluation,
    lines: list[Explanation],
) -> bool:
    line = Explanation(path=path or "rule", depth=depth, description="", result=False)
    lines.append(line)
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        results = [
            _explain(
                child,
                checks.item(checks.child(path, key), index),
                depth + 1,
                evaluation,
                lines,
            )
            for index, child in enumerate(node[key])
        ]
        met = sum(results)
        if key == "all":
            line.description = _("All of the following")
            line.result = all(results)
        else:
            line.description = _("Any of the following")
            line.result = any(results)
        line.reason = _("%(met)d of %(total)d met") % {
            "met": met,
            "total": len(results),
        }
        return line.result
    if "not" in node:
        inner = _explain(
            node["not"], checks.child(path, "not"), depth + 1, evaluation, lines
        )
        line.description = _("Not the following")
        line.result = not inner
        line.reason = (
            _("the condition below is false")
            if not inner
            else _("the condition below is true")
        )
        return line.result
    condition_type = _leaf_type(node)
    outcome = condition_type.explain(node, evaluation)
    line.description = condition_type.describe(node)
    line.result = outcome.result
    line.reason = outcome.reason
    return line.result


def dependencies(rule: Mapping[str, Any]) -> Dependencies:
    """Return what can change the result of ``rule`` for a profile."""
    result = Dependencies()
    for leaf in leaves(rule):
        result = result | _leaf_type(leaf).dependencies(leaf)
    return result


def leaves(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Yield the conditions of a rule, depth first."""
    if "all" in node or "any" in node:
        for child in node["all" if "all" in node else "any"]:
            yield from leaves(child)
    elif "not" in node:
        yield from leaves(node["not"])
    else:
        yield node


def describe(node: Mapping[str, Any]) -> str:
    """Return the rule in words on one line."""
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        if not node[key]:
            return _("every profile") if key == "all" else _("no profile")
        joiner = _(" and ") if key == "all" else _(" or ")
        parts = [describe(child) for child in node[key]]
        text = joiner.join(parts)
        return f"({text})" if len(parts) > 1 else text
    if "not" in node:
        return _("not %(condition)s") % {"condition": describe(node["not"])}
    return _leaf_type(node).describe(node)


def _leaf_type(node: Mapping[str, Any]) -> Any:
    condition_type = get_condition_type(node.get("type", ""))
    if condition_type is None:
        raise InvalidRule(
            "", f"{node.get('type')!r} is not a registered condition type."
        )
    return condition_type
