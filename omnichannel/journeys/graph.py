"""The step graph of a journey: its JSON shape and its validation.

A graph is ``{"start": KEY, "steps": {KEY: STEP, ...}}``. Each step is a dict with a
``type`` and the fields of that type; the keys that name following steps are listed
in :data:`NEXT_FIELDS`. Validation errors name the path inside the graph, such as
``steps.email_1.template``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils.dateparse import parse_duration

from omnichannel.exceptions import OmnichannelError
from omnichannel.security.outbound import UnsafeURL, check_url

STEP_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
CHANNELS = ("email", "sms", "push", "webpush", "whatsapp", "webhook", "onsite")

#: Fields of each step type that name the following step.
NEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "wait": ("next",),
    "wait_for_event": ("next", "timeout_next"),
    "branch": ("yes", "no"),
    "split": (),
    "send": ("next",),
    "best_channel": ("next",),
    "update_profile": ("next",),
    "notify_staff": ("next",),
    "webhook": ("next",),
    "exit": (),
}
WAITING_TYPES = ("wait", "wait_for_event")


class InvalidGraph(OmnichannelError, ValueError):
    """A journey graph does not have the documented shape."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def parse_step_duration(value: Any, path: str) -> timedelta:
    """Parse an ISO 8601 duration (``PT1H``, ``P3D``) or a number of seconds."""
    if isinstance(value, bool):
        raise InvalidGraph(path, "must be an ISO 8601 duration such as 'PT1H'.")
    if isinstance(value, int | float):
        duration = timedelta(seconds=value)
    elif isinstance(value, str):
        parsed = parse_duration(value)
        if parsed is None:
            raise InvalidGraph(
                path, f"{value!r} is not an ISO 8601 duration such as 'PT1H' or 'P3D'."
            )
        duration = parsed
    else:
        raise InvalidGraph(path, "must be an ISO 8601 duration such as 'PT1H'.")
    if duration < timedelta(0):
        raise InvalidGraph(path, "must not be negative.")
    return duration


def validate_graph(graph: Any) -> None:
    """Raise InvalidGraph unless ``graph`` is a well-formed journey graph."""
    if not isinstance(graph, dict):
        raise InvalidGraph("graph", "must be an object with 'start' and 'steps'.")
    steps = graph.get("steps")
    if not isinstance(steps, dict) or not steps:
        raise InvalidGraph("steps", "must be a non-empty object of step key to step.")
    start = graph.get("start")
    if start not in steps:
        raise InvalidGraph("start", f"{start!r} is not a step key.")
    for key, step in steps.items():
        path = f"steps.{key}"
        if not isinstance(key, str) or not STEP_KEY.match(key):
            raise InvalidGraph(
                path, "step keys are 1-64 lower-case letters, digits, '_' or '-'."
            )
        _validate_step(path, step, steps)
    _reject_instant_cycles(graph)


def _validate_step(path: str, step: Any, steps: dict[str, Any]) -> None:
    if not isinstance(step, dict):
        raise InvalidGraph(path, "must be an object with a 'type'.")
    step_type = step.get("type")
    if step_type not in NEXT_FIELDS:
        raise InvalidGraph(
            f"{path}.type",
            f"{step_type!r} is not a step type; use one of {', '.join(NEXT_FIELDS)}.",
        )
    for field in NEXT_FIELDS[step_type]:
        target = step.get(field)
        if target is None and field in ("next", "timeout_next"):
            continue  # The run ends after this step.
        if target not in steps:
            raise InvalidGraph(f"{path}.{field}", f"{target!r} is not a step key.")
    validator = _VALIDATORS.get(step_type)
    if validator:
        validator(path, step, steps)


def _validate_wait(path: str, step: dict[str, Any], steps: dict[str, Any]) -> None:
    forms = [name for name in ("duration", "until_time", "send_time") if name in step]
    if len(forms) != 1:
        raise InvalidGraph(
            path, "a wait needs exactly one of 'duration', 'until_time', 'send_time'."
        )
    if "duration" in step:
        parse_step_duration(step["duration"], f"{path}.duration")
    if "until_time" in step and not (
        isinstance(step["until_time"], str) and TIME_OF_DAY.match(step["until_time"])
    ):
        raise InvalidGraph(f"{path}.until_time", "must be a time such as '10:00'.")
    if "send_time" in step and step["send_time"] != "best":
        raise InvalidGraph(f"{path}.send_time", "the only value is 'best'.")
    if step.get("anchor", "step") not in ("step", "trigger"):
        raise InvalidGraph(f"{path}.anchor", "must be 'step' or 'trigger'.")


def _validate_wait_for_event(
    path: str, step: dict[str, Any], steps: dict[str, Any]
) -> None:
    if not isinstance(step.get("event"), str) or not step["event"]:
        raise InvalidGraph(f"{path}.event", "must name the event to wait for.")
    parse_step_duration(step.get("timeout"), f"{path}.timeout")


def _validate_branch(path: str, step: dict[str, Any], steps: dict[str, Any]) -> None:
    from omnichannel.journeys.conditions import validate_condition

    validate_condition(step.get("condition"), f"{path}.condition", steps)


def _validate_split(path: str, step: dict[str, Any], steps: dict[str, Any]) -> None:
    variants = step.get("variants")
    if not isinstance(variants, list) or not variants:
        raise InvalidGraph(f"{path}.variants", "must be a non-empty list.")
    seen = set()
    for index, variant in enumerate(variants):
        variant_path = f"{path}.variants[{index}]"
        if not isinstance(variant, dict):
            raise InvalidGraph(variant_path, "must be an object.")
        key = variant.get("key")
        if not isinstance(key, str) or not key or key in seen:
            raise InvalidGraph(
                f"{variant_path}.key", "must be a unique, non-empty key."
            )
        seen.add(key)
        weight = variant.get("weight")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or weight < 0
        ):
            raise InvalidGraph(f"{variant_path}.weight", "must be a number >= 0.")
        if variant.get("next") is not None and variant["next"] not in steps:
            raise InvalidGraph(
                f"{variant_path}.next", f"{variant['next']!r} is not a step key."
            )
    total = sum(variant["weight"] for variant in variants)
    control = step.get("control_weight", 0)
    if isinstance(control, bool) or not isinstance(control, int | float) or control < 0:
        raise InvalidGraph(f"{path}.control_weight", "must be a number >= 0.")
    if total + control <= 0:
        raise InvalidGraph(f"{path}.variants", "the weights add up to zero.")


def _validate_send(path: str, step: dict[str, Any], steps: dict[str, Any]) -> None:
    if step.get("channel") not in CHANNELS:
        raise InvalidGraph(f"{path}.channel", f"must be one of {', '.join(CHANNELS)}.")
    if not isinstance(step.get("template"), str) or not step["template"]:
        raise InvalidGraph(
            f"{path}.template", "must be the slug of a message template."
        )
    _validate_offer(path, step)


def _validate_offer(path: str, step: dict[str, Any]) -> None:
    offer = step.get("offer")
    if offer is not None and (not isinstance(offer, str) or not offer):
        raise InvalidGraph(f"{path}.offer", "must be the slug of an offer.")


def _validate_best_channel(
    path: str, step: dict[str, Any], steps: dict[str, Any]
) -> None:
    templates = step.get("templates")
    if not isinstance(templates, dict) or not templates:
        raise InvalidGraph(
            f"{path}.templates", "must map each channel to a template slug."
        )
    for channel in templates:
        if channel not in CHANNELS:
            raise InvalidGraph(
                f"{path}.templates.{channel}", f"must be one of {', '.join(CHANNELS)}."
            )
    _validate_offer(path, step)


def _validate_update(path: str, step: dict[str, Any], steps: dict[str, Any]) -> None:
    if not isinstance(step.get("attributes", {}), dict):
        raise InvalidGraph(f"{path}.attributes", "must be an object.")
    for field in ("add_tags", "remove_tags"):
        tags = step.get(field, [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidGraph(f"{path}.{field}", "must be a list of strings.")


def _validate_notify(path: str, step: dict[str, Any], steps: dict[str, Any]) -> None:
    if not isinstance(step.get("subject"), str) or not step["subject"]:
        raise InvalidGraph(f"{path}.subject", "must be a non-empty string.")
    recipients = step.get("to", [])
    if not isinstance(recipients, list) or not all(
        isinstance(r, str) for r in recipients
    ):
        raise InvalidGraph(f"{path}.to", "must be a list of email addresses.")
    if "condition" in step:
        from omnichannel.journeys.conditions import validate_condition

        validate_condition(step["condition"], f"{path}.condition", steps)


def _validate_webhook(path: str, step: dict[str, Any], steps: dict[str, Any]) -> None:
    url = step.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidGraph(f"{path}.url", "must be an http(s) URL.")
    # Without a DNS lookup: the send checks the resolved addresses again.
    try:
        check_url(url, resolve_host=False)
    except UnsafeURL as error:
        raise InvalidGraph(f"{path}.url", error.reason) from None


_VALIDATORS = {
    "wait": _validate_wait,
    "wait_for_event": _validate_wait_for_event,
    "branch": _validate_branch,
    "split": _validate_split,
    "send": _validate_send,
    "best_channel": _validate_best_channel,
    "update_profile": _validate_update,
    "notify_staff": _validate_notify,
    "webhook": _validate_webhook,
}


def following_steps(step: dict[str, Any]) -> list[str]:
    """Return the keys of the steps that can follow ``step``."""
    keys = [step.get(field) for field in NEXT_FIELDS[step["type"]]]
    if step["type"] == "split":
        keys = [variant.get("next") for variant in step["variants"]]
    return [key for key in keys if key]


def _reject_instant_cycles(graph: dict[str, Any]) -> None:
    """Reject a loop that never waits, because a run would spin in it forever."""
    steps = graph["steps"]
    state: dict[str, int] = {}

    def visit(key: str, trail: list[str]) -> None:
        if steps[key]["type"] in WAITING_TYPES:
            return
        if state.get(key) == 1:
            loop = " -> ".join([*trail[trail.index(key) :], key])
            raise InvalidGraph(f"steps.{key}", f"the loop {loop} never waits.")
        if state.get(key) == 2:
            return
        state[key] = 1
        for following in following_steps(steps[key]):
            visit(following, [*trail, key])
        state[key] = 2

    for key in steps:
        visit(key, [])
