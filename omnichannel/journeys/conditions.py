"""Branch conditions: the segment condition language plus facts about the run.

Facts about the run are leaves that only make sense inside a journey:

* ``{"type": "message", "step": "email_1", "action": "opened"}``: the message sent at
  that step of this run was opened (actions: ``sent``, ``delivered``, ``opened``,
  ``clicked``);
* ``{"type": "purchased_since_entry"}``: an order was placed since the run began;
* ``{"type": "offer", "offer": "vip-early-access", "state": "claimed"}``: the
  customer's offer had reached that state (``issued``, ``seen``, ``claimed``,
  ``expired``; see ``omnichannel.offers.status.reached_state``). Give ``"step":
  KEY`` instead of ``"offer"`` for the offer that send step issues.

``all``, ``any`` and ``not`` combine them with any condition of the segment language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from omnichannel.journeys.graph import InvalidGraph
from omnichannel.profiles.models import Event

MESSAGE_ACTIONS = {
    "sent": "message_sent",
    "delivered": "message_delivered",
    "opened": "message_opened",
    "clicked": "message_clicked",
}
RUN_FACTS = ("message", "purchased_since_entry", "offer")
OFFER_STATES = ("issued", "seen", "claimed", "expired")


def validate_condition(
    rule: Any, path: str, steps: dict[str, Any] | None = None
) -> None:
    """Raise InvalidGraph unless ``rule`` is a valid branch condition.

    ``steps`` are the graph's steps, when known, to check the steps a leaf names.
    """
    if not isinstance(rule, dict) or not rule:
        raise InvalidGraph(path, "must be a condition object.")
    if "all" in rule or "any" in rule:
        operator = "all" if "all" in rule else "any"
        children = rule[operator]
        if not isinstance(children, list) or not children:
            raise InvalidGraph(f"{path}.{operator}", "must be a non-empty list.")
        for index, child in enumerate(children):
            validate_condition(child, f"{path}.{operator}[{index}]", steps)
        return
    if "not" in rule:
        validate_condition(rule["not"], f"{path}.not", steps)
        return
    if rule.get("type") == "message":
        if not isinstance(rule.get("step"), str):
            raise InvalidGraph(f"{path}.step", "must name the step that sent it.")
        if rule.get("action") not in MESSAGE_ACTIONS:
            raise InvalidGraph(
                f"{path}.action", f"must be one of {', '.join(MESSAGE_ACTIONS)}."
            )
        return
    if rule.get("type") == "purchased_since_entry":
        return
    if rule.get("type") == "offer":
        _validate_offer_leaf(rule, path, steps)
        return
    from omnichannel.segments import conditions as segment_conditions

    try:
        segment_conditions.validate(rule)
    except ValueError as error:
        raise InvalidGraph(path, str(error)) from None


def evaluate_condition(rule: dict[str, Any], enrollment: Any, now: datetime) -> bool:
    """Evaluate a branch condition for one enrollment at ``now``."""
    if "all" in rule:
        return all(evaluate_condition(child, enrollment, now) for child in rule["all"])
    if "any" in rule:
        return any(evaluate_condition(child, enrollment, now) for child in rule["any"])
    if "not" in rule:
        return not evaluate_condition(rule["not"], enrollment, now)
    if rule.get("type") == "message":
        return message_fact(enrollment, rule["step"], rule["action"], now)
    if rule.get("type") == "offer":
        return offer_fact(enrollment, rule, now)
    if rule.get("type") == "purchased_since_entry":
        return Event.objects.filter(
            profile_id=enrollment.profile_id,
            name="order_placed",
            occurred_at__gte=enrollment.entered_at,
            occurred_at__lte=now,
        ).exists()
    from omnichannel.segments import conditions as segment_conditions

    return segment_conditions.evaluate(rule, enrollment.profile, now=now)


def message_fact(enrollment: Any, step_key: str, action: str, now: datetime) -> bool:
    """Tell whether the message of ``step_key`` in this run had ``action`` by now."""
    delivery_ids = enrollment.context.get("deliveries", {}).get(step_key, [])
    if not delivery_ids:
        return False
    return Event.objects.filter(
        profile_id=enrollment.profile_id,
        name=MESSAGE_ACTIONS[action],
        # Tracking may store the id as a number or as a string.
        properties__delivery_id__in=[*delivery_ids, *map(str, delivery_ids)],
        occurred_at__lte=now,
    ).exists()


def _validate_offer_leaf(
    rule: dict[str, Any], path: str, steps: dict[str, Any] | None
) -> None:
    if rule.get("state") not in OFFER_STATES:
        raise InvalidGraph(
            f"{path}.state", f"must be one of {', '.join(OFFER_STATES)}."
        )
    has_offer, has_step = "offer" in rule, "step" in rule
    if has_offer == has_step:
        raise InvalidGraph(
            path, "give either 'offer' (an offer slug) or 'step' (a send step key)."
        )
    if has_offer:
        if not isinstance(rule["offer"], str) or not rule["offer"]:
            raise InvalidGraph(f"{path}.offer", "must be an offer slug.")
        return
    step_key = rule["step"]
    if not isinstance(step_key, str) or not step_key:
        raise InvalidGraph(f"{path}.step", "must be the key of a send step.")
    if steps is not None and not (steps.get(step_key) or {}).get("offer"):
        raise InvalidGraph(
            f"{path}.step", f"{step_key!r} is not a step that issues an offer."
        )


def offer_fact(enrollment: Any, rule: dict[str, Any], now: datetime) -> bool:
    """Tell whether the enrollment's customer had reached the leaf's offer state."""
    from omnichannel.offers.status import reached_state

    slug = rule.get("offer")
    if slug is None:
        step = enrollment.version.graph["steps"].get(rule["step"], {})
        slug = step.get("offer")
    if not slug:
        return False
    return reached_state(enrollment.profile, slug, rule["state"], at=now)
