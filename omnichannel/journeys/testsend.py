"""Test sends of a journey's send step to a staff member.

The step's template is rendered with a chosen customer's data, or with a sample
customer, and sent through the channel's real backend to the address the staff
member gives. Nothing of the customer's changes: no Delivery row, no frequency
cap count, no consent check or change, no offer code, no step counts. The message
is marked as a test: ``OutgoingMessage.test`` is set and the subject starts with
"[Test]".
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from omnichannel.channels.backends.base import SendResult
from omnichannel.exceptions import DeliveryError
from omnichannel.journeys.models import Enrollment, Journey
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

SEND_STEP_TYPES = ("send", "best_channel")
#: Stands in for the offer code a real run would issue.
SAMPLE_CODE = "TEST-CODE"


def journey_step(journey: Journey, key: str) -> dict[str, Any]:
    """Return step ``key`` of the draft, or of the published version."""
    for graph in (
        journey.draft_graph,
        journey.current_version.graph if journey.current_version else None,
    ):
        step = ((graph or {}).get("steps") or {}).get(key)
        if step is not None:
            return step
    raise DeliveryError(f"Journey {journey.slug!r} has no step {key!r}.")


def step_channels(step: dict[str, Any]) -> dict[str, str]:
    """Return the channel to template slug choices of a send step."""
    if step.get("type") == "send":
        return {step["channel"]: step["template"]}
    if step.get("type") == "best_channel":
        return dict(step.get("templates") or {})
    raise DeliveryError(
        f"A {step.get('type')!r} step sends no message; choose a send or "
        "best-channel step."
    )


def sample_profile() -> Profile:
    """Return an unsaved customer with sample values, for a test without one."""
    return Profile(
        first_name="Sample",
        last_name="Customer",
        email="sample.customer@example.com",
        order_count=3,
        total_spent=Decimal("180.00"),
        average_order_value=Decimal("60.00"),
        currency="EUR",
    )


def send_step_test(
    journey: Journey,
    key: str,
    address: str,
    *,
    customer: Profile | None = None,
    channel: str | None = None,
) -> SendResult:
    """Send step ``key`` of ``journey`` as ``customer`` would get it, to ``address``.

    Raises DeliveryError when the step sends nothing, the channel is not one of
    the step's, its template is missing or the channel has no test send, and the
    backend's errors as they are.
    """
    from omnichannel.channels.models import MessageTemplate
    from omnichannel.channels.preview import send_test
    from omnichannel.journeys.sending import _message_context

    step = journey_step(journey, key)
    choices = step_channels(step)
    channel = channel or next(iter(choices))
    if channel not in choices:
        raise DeliveryError(
            f"Step {key!r} sends on {', '.join(choices)}, not on {channel!r}."
        )
    template = MessageTemplate.objects.filter(
        slug=choices[channel], channel=channel
    ).first()
    if template is None:
        raise DeliveryError(
            f"The {channel} template {choices[channel]!r} of step {key!r} does not "
            "exist; create it before a test send."
        )

    profile = customer or sample_profile()
    # An unsaved run gives the step's message the context a real run would, with
    # the data of the customer's latest run of this journey, if any.
    latest = (
        journey.enrollments.filter(profile=profile).order_by("-entered_at").first()
        if customer is not None
        else None
    )
    data = (latest.context or {}).get("data") if latest is not None else None
    run = Enrollment(
        journey=journey, profile=profile, context={"data": data} if data else {}
    )
    offer = None
    if step.get("offer"):
        offer = {"code": SAMPLE_CODE, "name": step["offer"], "state": "open"}
    context = _message_context(step, run, offer)
    result = send_test(template, profile, address, context)
    logger.info(
        "test send of journey %s step %s on %s (customer %s)",
        journey.pk,
        key,
        channel,
        customer.pk if customer is not None else "sample",
    )
    return result
