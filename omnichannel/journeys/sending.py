"""Send steps: the guards that run at send time, then the Delivery row."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from omnichannel.conf import app_settings
from omnichannel.journeys.engine import _log
from omnichannel.journeys.models import Enrollment, StepRun
from omnichannel.journeys.steps import StepResult
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

CHANNEL_PURPOSE = "marketing"


def send_step(
    step: dict[str, Any],
    key: str,
    enrollment: Enrollment,
    now: datetime,
    *,
    channel: str,
    template_slug: str,
) -> StepResult:
    """Queue the message of a send step, unless a guard defers or stops it."""
    from omnichannel.channels import guards
    from omnichannel.channels.models import MessageTemplate
    from omnichannel.channels.services import (
        build_delivery,
        create_delivery,
        dispatch_later,
    )
    from omnichannel.journeys.batch import current_batch

    profile = enrollment.profile
    deferred = enrollment.context.setdefault("deferred", {})

    if channel in app_settings.QUIET_HOURS_CHANNELS:
        defer_until = guards.quiet_hours_defer_until(profile, now)
        if defer_until is not None and defer_until > now:
            if key not in deferred:
                _log(
                    enrollment,
                    StepRun.Outcome.DEFERRED,
                    at=now,
                    step_type=step["type"],
                    reason="quiet_hours",
                    details={"until": defer_until.isoformat()},
                )
            deferred[key] = defer_until.isoformat()
            return StepResult(wait_until=defer_until)
    deferred.pop(key, None)

    batch = current_batch()
    if batch is not None and not batch.owns(enrollment):
        batch = None
    capped = (
        batch.cap_reached(profile, channel)
        if batch is not None
        else guards.frequency_cap_reached(profile, channel, now)
    )
    if capped:
        _log(
            enrollment,
            StepRun.Outcome.SKIPPED,
            at=now,
            step_type=step["type"],
            reason="frequency_cap",
            details={"channel": channel},
        )
        return StepResult(next_step=step.get("next"))

    template = None
    if channel != "webhook" or template_slug:
        template = (
            batch.template(template_slug, channel)
            if batch is not None
            else MessageTemplate.objects.filter(
                slug=template_slug, channel=channel
            ).first()
        )
        if template is None:
            _log(
                enrollment,
                StepRun.Outcome.SKIPPED,
                at=now,
                step_type=step["type"],
                reason="template_missing",
                details={"template": template_slug, "channel": channel},
            )
            logger.warning(
                "journey %s step %s: no %s template %r",
                enrollment.journey_id,
                key,
                channel,
                template_slug,
            )
            return StepResult(next_step=step.get("next"))

    if enrollment.context.get("dry_run"):
        from omnichannel.consent.services import has_consent

        consented = channel in ("webhook", "onsite") or has_consent(
            profile, channel, CHANNEL_PURPOSE, at=now
        )
        _log(
            enrollment,
            StepRun.Outcome.SENT if consented else StepRun.Outcome.SKIPPED,
            at=now,
            step_type=step["type"],
            reason="" if consented else "no_consent",
            details={"dry_run": True, "channel": channel, "template": template_slug},
        )
        return StepResult(next_step=step.get("next"))

    arm = None
    if template is not None:
        from omnichannel.journeys.experiments import arm_for, variant_template

        arm = arm_for(
            profile, enrollment.journey.slug, key, template.slug, channel=channel
        )
        if arm is not None and arm.is_holdout:
            _log(
                enrollment,
                StepRun.Outcome.SKIPPED,
                at=now,
                step_type=step["type"],
                reason="experiment_holdout",
                details={"experiment": arm.experiment.key},
            )
            return StepResult(next_step=step.get("next"))
        if arm is not None:
            template = variant_template(arm, template, channel)

    offer = None
    if step.get("offer"):
        offer = issue_step_offer(step, key, enrollment, now)
        if offer is None:
            return StepResult(next_step=step.get("next"))

    visits = enrollment.context.setdefault("visits", {})
    visit = visits.get(key, 0) + 1
    visits[key] = visit
    arguments = {
        "dedupe_key": f"{enrollment.pk}:{key}:{visit}",
        "context": {
            **_message_context(step, enrollment, offer),
            **(arm.context() if arm is not None else {}),
        },
        "source_type": "journey",
        "source_id": str(enrollment.pk),
        "step_key": key,
        "scheduled_at": now,
    }
    delivery_ids = enrollment.context.setdefault("deliveries", {}).setdefault(key, [])
    if batch is not None:
        # The row is inserted, and its id noted here, when the batch is flushed.
        from omnichannel.journeys.batch import PendingDelivery

        row = build_delivery(profile, channel, template, **arguments)
        run = _log(
            enrollment,
            StepRun.Outcome.SENT,
            at=now,
            step_type=step["type"],
            details={"delivery_id": None, "channel": channel},
        )
        batch.add_delivery(
            enrollment, PendingDelivery(row=row, step_run=run, context_ids=delivery_ids)
        )
        return StepResult(next_step=step.get("next"))

    delivery, created = create_delivery(profile, channel, template, **arguments)
    if delivery.pk not in delivery_ids:
        delivery_ids.append(delivery.pk)
    if created:
        dispatch_later(delivery.pk)
    _log(
        enrollment,
        StepRun.Outcome.SENT,
        at=now,
        step_type=step["type"],
        details={"delivery_id": delivery.pk, "channel": channel},
    )
    return StepResult(next_step=step.get("next"))


def issue_step_offer(
    step: dict[str, Any], key: str, enrollment: Enrollment, now: datetime
) -> dict[str, Any] | None:
    """Issue the step's offer to the customer; return it for the message context.

    A code that expired unused is renewed. Returns None, and logs the step as
    skipped, when the offer cannot be issued or the customer used it already,
    because a message must not promise a code that the checkout would reject.
    """
    from django.core.exceptions import ImproperlyConfigured

    from omnichannel.exceptions import InvalidDiscountCode, OfferError
    from omnichannel.offers.services import issue_code
    from omnichannel.offers.status import build_status

    slug = step["offer"]
    try:
        customer_offer = issue_code(
            slug,
            enrollment.profile,
            source=f"journey:{enrollment.journey.slug}:{key}",
            at=now,
            renew_expired=True,
        )
    except OfferError as error:
        reason = error.reason
    except InvalidDiscountCode as error:
        # The shop's adapter rejected the code it was asked to create.
        reason = f"code_rejected:{error.field}"
    except ImproperlyConfigured:
        # No shop adapter creates discount codes; the check omnichannel.W050
        # reports it with the fix.
        reason = "no_code_adapter"
    else:
        status = build_status(customer_offer, now)
        if status.is_open:
            return status.as_dict()
        reason = f"offer_{status.state}"
    _log(
        enrollment,
        StepRun.Outcome.SKIPPED,
        at=now,
        step_type=step["type"],
        reason="offer_unavailable",
        details={"offer": slug, "reason": reason},
    )
    logger.warning(
        "journey %s step %s: offer %s not sent to profile %s (%s)",
        enrollment.journey_id,
        key,
        slug,
        enrollment.profile_id,
        reason,
    )
    return None


def _message_context(
    step: dict[str, Any], enrollment: Enrollment, offer: dict[str, Any] | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "journey": enrollment.journey.slug,
        "journey_id": enrollment.journey_id,
        "enrollment_id": enrollment.pk,
    }
    if enrollment.object_type:
        context["object_type"] = enrollment.object_type
        context["object_id"] = enrollment.object_id
    if enrollment.object_type == "cart":
        context["cart"] = _cart_snapshot(enrollment)
    if step.get("url"):
        context["url"] = step["url"]
    if offer is not None:
        # Templates show {{ code }} (also {{ offer_code }}), {{ offer.valid_until }},
        # {{ offer.name }} and the other fields of OfferStatus.as_dict().
        context["offer"] = offer
        context["code"] = offer["code"]
        context["offer_code"] = offer["code"]
    if enrollment.context.get("data"):
        context["data"] = enrollment.context["data"]
    splits = enrollment.context.get("splits")
    if splits:
        context["splits"] = splits
    return context


def choose_channel(profile: Profile, channels: list[str], now: datetime) -> str | None:
    """Return the consented channel with the highest engagement, or None.

    Affinity comes from the predictions when present; otherwise the order given
    in the step decides.
    """
    from omnichannel.consent.services import has_consent

    allowed = [
        channel
        for channel in channels
        if channel in ("webhook", "onsite")
        or has_consent(profile, channel, CHANNEL_PURPOSE, at=now)
    ]
    if not allowed:
        return None
    prediction = getattr(profile, "prediction", None)
    affinity = getattr(prediction, "channel_affinity", None) or {}
    return max(
        allowed, key=lambda channel: (affinity.get(channel, 0), -allowed.index(channel))
    )


def _cart_snapshot(enrollment: Enrollment) -> dict[str, Any]:
    """Return the cart's latest lines and total, as its last change recorded them."""
    from omnichannel.profiles.models import Event

    properties = (
        Event.objects.filter(
            name="cart_updated",
            object_type="cart",
            object_id=enrollment.object_id,
        )
        .order_by("-occurred_at", "-id")
        .values_list("properties", flat=True)
        .first()
    ) or {}
    return {
        "id": enrollment.object_id,
        "lines": properties.get("lines", []),
        "total": properties.get("total", ""),
        "currency": properties.get("currency", ""),
    }
