"""Place the steps of a graph on a grid for the admin's diagram."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from omnichannel.journeys.graph import NEXT_FIELDS

BOX_WIDTH = 190
BOX_HEIGHT = 76
COLUMN_GAP = 70
ROW_GAP = 34
MARGIN = 16


@dataclass
class Box:
    key: str
    step: dict[str, Any]
    x: int
    y: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return describe_step(self.step)


@dataclass
class Arrow:
    x1: int
    y1: int
    x2: int
    y2: int
    label: str


def describe_step(step: dict[str, Any]) -> str:
    """Return a short human description of a step for its box."""
    kind = step.get("type", "?")
    if kind == "wait":
        if "duration" in step:
            anchor = " after trigger" if step.get("anchor") == "trigger" else ""
            return f"wait {step['duration']}{anchor}"
        if "until_time" in step:
            return f"wait until {step['until_time']} local"
        return "wait for best send time"
    if kind == "wait_for_event":
        return f"wait for {step.get('event')} (max {step.get('timeout')})"
    if kind == "send":
        return f"send {step.get('channel')}: {step.get('template')}"
    if kind == "best_channel":
        return "send on best of " + ", ".join(step.get("templates", {}))
    if kind == "split":
        return "split " + "/".join(str(v.get("key")) for v in step.get("variants", []))
    if kind == "notify_staff":
        return f"notify staff: {step.get('subject', '')}"
    return kind.replace("_", " ")


def _edges(step: dict[str, Any]) -> list[tuple[str, str]]:
    if step.get("type") == "split":
        return [
            (variant["next"], str(variant.get("key")))
            for variant in step.get("variants", [])
            if variant.get("next")
        ]
    labels = {"yes": "yes", "no": "no", "timeout_next": "timeout"}
    return [
        (step[name], labels.get(name, ""))
        for name in NEXT_FIELDS.get(step.get("type", ""), ())
        if step.get(name)
    ]


def layout(graph: dict[str, Any]) -> tuple[list[Box], list[Arrow], int, int]:
    """Return boxes, arrows, width and height; columns follow the distance from the
    start step, and unreachable steps go in a last column."""
    steps = graph.get("steps", {})
    start = graph.get("start")
    depth: dict[str, int] = {}
    queue: deque[str] = deque()
    if start in steps:
        depth[start] = 0
        queue.append(start)
    while queue:
        key = queue.popleft()
        for target, _label in _edges(steps[key]):
            if target in steps and target not in depth:
                depth[target] = depth[key] + 1
                queue.append(target)
    last = max(depth.values(), default=-1) + 1
    for key in steps:
        depth.setdefault(key, last)

    rows: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for key in steps:
        column = depth[key]
        row = rows.get(column, 0)
        rows[column] = row + 1
        boxes[key] = Box(
            key=key,
            step=steps[key],
            x=MARGIN + column * (BOX_WIDTH + COLUMN_GAP),
            y=MARGIN + row * (BOX_HEIGHT + ROW_GAP),
        )
    arrows = []
    for box in boxes.values():
        for target, label in _edges(box.step):
            if target not in boxes:
                continue
            other = boxes[target]
            arrows.append(
                Arrow(
                    x1=box.x + BOX_WIDTH,
                    y1=box.y + BOX_HEIGHT // 2,
                    x2=other.x,
                    y2=other.y + BOX_HEIGHT // 2,
                    label=label,
                )
            )
    width = max((b.x for b in boxes.values()), default=0) + BOX_WIDTH + MARGIN
    height = max((b.y for b in boxes.values()), default=0) + BOX_HEIGHT + MARGIN
    return list(boxes.values()), arrows, width, height
