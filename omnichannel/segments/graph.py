"""References between segments: cycle checks and the order of rebuilding."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.conditions import checks


def leaf_paths(node: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(path, leaf)`` for every condition of a rule."""
    for key in ("all", "any"):
        if key in node:
            for index, child in enumerate(node[key]):
                yield from leaf_paths(
                    child, checks.item(checks.child(path, key), index)
                )
            return
    if "not" in node:
        yield from leaf_paths(node["not"], checks.child(path, "not"))
        return
    yield path, node


def references(rule: Mapping[str, Any]) -> set[str]:
    """Return the slugs of the segments a rule refers to."""
    return {
        leaf["segment"]
        for _path, leaf in leaf_paths(rule)
        if leaf.get("type") == "segment" and isinstance(leaf.get("segment"), str)
    }


def stored_rules() -> dict[str, Any]:
    """Return every segment's rule by slug."""
    from omnichannel.segments.models import Segment

    return dict(Segment.objects.values_list("slug", "rules"))


def check_no_cycle(rule: Mapping[str, Any], segment: Any) -> None:
    """Raise InvalidRule if ``rule``, as the rule of ``segment``, closes a cycle."""
    slug = segment.slug
    rules = stored_rules()
    if segment.pk is not None:
        # A rename keeps the old slug in the database until the save.
        from omnichannel.segments.models import Segment

        old_slug = (
            Segment.objects.filter(pk=segment.pk).values_list("slug", flat=True).first()
        )
        if old_slug and old_slug != slug:
            rules.pop(old_slug, None)
            rules = {
                key: rename_reference(value, old_slug, slug)
                for key, value in rules.items()
            }
    rules[slug] = rule
    for path, leaf in leaf_paths(rule):
        if leaf.get("type") != "segment":
            continue
        trail = _path_back(leaf["segment"], slug, rules, [leaf["segment"]], set())
        if trail is not None:
            chain = " -> ".join([slug, *trail])
            raise InvalidRule(
                checks.child(path, "segment"),
                f"the segments refer to each other in a cycle ({chain}); "
                "a segment cannot depend on itself.",
            )


def _path_back(
    current: str,
    target: str,
    rules: Mapping[str, Any],
    trail: list[str],
    seen: set[str],
) -> list[str] | None:
    if current == target:
        return trail
    if current in seen or current not in rules:
        return None
    seen.add(current)
    for referenced in sorted(references(rules[current])):
        found = _path_back(referenced, target, rules, [*trail, referenced], seen)
        if found is not None:
            return found
    return None


def rebuild_order(
    rules: Mapping[str, Any], wanted: set[str] | None = None
) -> list[str]:
    """Return slugs so that every segment comes after the segments it reads.

    With ``wanted``, return those segments and every segment that depends on them,
    directly or not. Raises InvalidRule if stored rules form a cycle.
    """
    graph = {slug: references(rule) & set(rules) for slug, rule in rules.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise InvalidRule(
            "",
            f"stored segment rules form a cycle ({error.args[1]}); edit one of them "
            "in the admin to break it.",
        ) from None
    if wanted is None:
        return order
    selected = set(wanted)
    for slug in order:
        if graph.get(slug, set()) & selected:
            selected.add(slug)
    return [slug for slug in order if slug in selected]


def rename_reference(node: Any, old: str, new: str) -> Any:
    """Return ``node`` with references to segment ``old`` pointing at ``new``."""
    if not isinstance(node, Mapping):
        return node
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        return {key: [rename_reference(child, old, new) for child in node[key]]}
    if "not" in node:
        return {"not": rename_reference(node["not"], old, new)}
    if node.get("type") == "segment" and node.get("segment") == old:
        return {**node, "segment": new}
    return node
