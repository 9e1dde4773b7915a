"""Signal handlers of the channels package, connected when the app is ready."""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import tracking
from django.dispatch import receiver

from omnichannel.profiles.events import ORDER_EVENT
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import load_profiles
from omnichannel.profiles.signals import events_tracked

logger = logging.getLogger(__name__)


@receiver(tracking, dispatch_uid="omnichannel-anymail-tracking")
def record_anymail_event(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Record delivery, bounce, complaint, open and click events of email providers.

    The app's only receiver of anymail's ``tracking`` signal: it updates the
    delivery, the Event log, the suppression list and the consent ledger.
    """
    from omnichannel.channels.tracking import handle_anymail_event

    handle_anymail_event(event, esp_name)


@receiver(events_tracked, sender=Event, dispatch_uid="omnichannel-attribute-orders")
def attribute_orders_to_clicks(sender: Any, events: list[Event], **kwargs: Any) -> None:
    """Attribute each new order to the last message click before it."""
    orders = [event for event in events if event.name == ORDER_EVENT]
    if not orders:
        return
    from omnichannel.channels.tracking import attribute_order

    load_profiles(orders)
    for order in orders:
        attribute_order(order)
