"""Opens, clicks, provider events and order attribution, all into the Event log.

Opens and clicks are recorded only while the recipient consents to tracking; the
consent is read again when the open or click arrives. A provider event is
handled once, in one transaction: ``omnichannel.consent.receivers`` applies it to
the suppression list and the consent ledger, this module to the delivery and the
Event log.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from omnichannel.channels.models import Delivery
from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel
from omnichannel.consent.receivers import handle_tracking_event
from omnichannel.consent.services import has_consent
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import track

logger = logging.getLogger(__name__)

# anymail's normalised event types, and what they become in the Event log.
ANYMAIL_EVENTS = {
    "delivered": "message_delivered",
    "bounced": "message_bounced",
    "rejected": "message_bounced",
    "complained": "message_complained",
    "opened": "message_opened",
    "clicked": "message_clicked",
    "unsubscribed": "unsubscribed",
}
# anymail event types that set a delivery's ``bounced_at``.
BOUNCING_EVENTS = frozenset({"bounced", "rejected", "complained"})


# Keys of a delivery's context copied onto its events, so that analytics can
# credit a click to its journey, step and experiment arm.
CONTEXT_PROPERTIES = ("journey_id", "experiment_id", "variant")


def delivery_properties(delivery: Delivery, **extra: Any) -> dict[str, Any]:
    """Return the properties of a message event of ``delivery``, plus ``extra``.

    They name the delivery, its template and source, and the journey and A/B test
    arm it was sent for, so that analytics can credit the event to each.
    """
    properties = {
        "delivery_id": delivery.pk,
        "channel": delivery.channel,
        "template": delivery.template.slug,
        "source_type": delivery.source_type,
        "source_id": delivery.source_id,
        "step_key": delivery.step_key,
    }
    context = delivery.context if isinstance(delivery.context, dict) else {}
    for key in CONTEXT_PROPERTIES:
        if context.get(key) not in (None, ""):
            properties[key] = context[key]
    return {**properties, **extra}


def may_track(delivery: Delivery, at: datetime | None = None) -> bool:
    """Tell whether the delivery's recipient consents to open and click tracking."""
    return has_consent(delivery.profile, Channel.TRACKING, at=at or timezone.now())


def record_open(delivery: Delivery, *, at: datetime | None = None) -> bool:
    """Record the first open of ``delivery``; return whether it was recorded."""
    at = at or timezone.now()
    if not may_track(delivery, at):
        return False
    with transaction.atomic():
        updated = Delivery.objects.filter(
            pk=delivery.pk, opened_at__isnull=True
        ).update(opened_at=at)
        if not updated:
            return False
        track(
            "message_opened",
            profile=delivery.profile,
            properties=delivery_properties(delivery),
            occurred_at=at,
            object_type="delivery",
            object_id=delivery.pk,
            source="channels",
            idempotency_key=f"message_opened:{delivery.pk}",
        )
    return True


def record_click(delivery: Delivery, url: str, *, at: datetime | None = None) -> bool:
    """Record a click on ``url`` in ``delivery``; a click also counts as an open."""
    at = at or timezone.now()
    if not may_track(delivery, at):
        return False
    record_open(delivery, at=at)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, clicked_at__isnull=True).update(
            clicked_at=at
        )
        track(
            "message_clicked",
            profile=delivery.profile,
            properties=delivery_properties(delivery, url=url[:2000]),
            occurred_at=at,
            object_type="delivery",
            object_id=delivery.pk,
            source="channels",
        )
    return True


def find_delivery(message_id: str, metadata: dict[str, Any] | None) -> Delivery | None:
    """Find the delivery of a provider event by our metadata or the message id."""
    delivery_id = str((metadata or {}).get("delivery_id") or "")
    queryset = Delivery.objects.select_related("profile", "template")
    if delivery_id.isdigit():
        found = queryset.filter(pk=int(delivery_id)).first()
        if found is not None:
            return found
    if message_id:
        return queryset.filter(provider_message_id=message_id).first()
    return None


def handle_anymail_event(event: Any, esp_name: str = "") -> str:
    """Record one anymail tracking event; return the Event log name or ''."""
    name = ANYMAIL_EVENTS.get(event.event_type)
    if name is None:
        return ""
    delivery = find_delivery(event.message_id or "", event.metadata)
    with transaction.atomic():
        return _record_provider_event(event, esp_name, name, delivery)


def _record_provider_event(
    event: Any, esp_name: str, name: str, delivery: Delivery | None
) -> str:
    # Bounces, complaints and unsubscribes reach the suppression list and the
    # consent ledger also for mail sent outside the app, with no delivery.
    handle_tracking_event(
        event,
        esp_name,
        profile=delivery.profile if delivery is not None else None,
        recipient=delivery.profile.email if delivery is not None else None,
    )
    if delivery is None:
        logger.info("%s event %s matches no delivery", esp_name, event.event_type)
        return ""
    at = event.timestamp or timezone.now()
    if name == "message_opened":
        return name if record_open(delivery, at=at) else ""
    if name == "message_clicked":
        return name if record_click(delivery, event.click_url or "", at=at) else ""
    with transaction.atomic():
        _apply_provider_event(delivery, event, name, at)
        track(
            name,
            profile=delivery.profile,
            properties=delivery_properties(
                delivery,
                esp=esp_name,
                reject_reason=event.reject_reason or "",
            ),
            occurred_at=at,
            object_type="delivery",
            object_id=delivery.pk,
            source="channels",
            idempotency_key=f"{esp_name}:{event.event_id}" if event.event_id else None,
        )
    return name


def _apply_provider_event(
    delivery: Delivery, event: Any, name: str, at: datetime
) -> None:
    # handle_tracking_event has applied the suppression list and the consent
    # ledger; here only the delivery's times change.
    if name == "message_delivered":
        Delivery.objects.filter(pk=delivery.pk, delivered_at__isnull=True).update(
            delivered_at=at
        )
    if event.event_type in BOUNCING_EVENTS:
        Delivery.objects.filter(pk=delivery.pk, bounced_at__isnull=True).update(
            bounced_at=at
        )


def attribute_order(order: Event) -> Event | None:
    """Attribute an order to the last message click within ``ATTRIBUTION_WINDOW``.

    Return the ``message_converted`` event written, or None when no click came
    before the order inside the window.
    """
    window = app_settings.ATTRIBUTION_WINDOW
    click = (
        Event.objects.filter(
            profile_id=order.profile_id,
            name="message_clicked",
            occurred_at__lte=order.occurred_at,
            occurred_at__gte=order.occurred_at - window,
        )
        .order_by("-occurred_at", "-id")
        .first()
    )
    if click is None:
        return None
    properties = click.properties if isinstance(click.properties, dict) else {}
    return track(
        "message_converted",
        profile=order.profile,
        properties={
            "delivery_id": properties.get("delivery_id"),
            "channel": properties.get("channel", ""),
            "template": properties.get("template", ""),
            "source_type": properties.get("source_type", ""),
            "source_id": properties.get("source_id", ""),
            "step_key": properties.get("step_key", ""),
            "journey_id": properties.get("journey_id"),
            "order_id": order.object_id,
            "click_event_id": click.pk,
            "model": "last_click",
        },
        occurred_at=order.occurred_at,
        object_type=order.object_type,
        object_id=order.object_id,
        revenue=order.revenue,
        currency=order.currency,
        source="channels",
        idempotency_key=f"message_converted:{order.pk}",
    )
