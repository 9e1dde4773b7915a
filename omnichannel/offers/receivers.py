"""Connect offers to the event log: an order that carries a code claims the offer."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from omnichannel.profiles.events import ORDER_EVENT
from omnichannel.profiles.signals import event_tracked


@receiver(event_tracked, dispatch_uid="omnichannel-offers-claim")
def claim_offers_of_order(sender: Any, event: Any, profile: Any, **kwargs: Any) -> None:
    """Claim the offer codes an order used, inside the order event's transaction.

    Whatever channel reported the order (a shop adapter, the events API for the app
    or a till), the claim commits or rolls back with it. A rejected code raises
    OfferCodeRejected, which rolls the order event back too.
    """
    if event.name != ORDER_EVENT or not event.properties.get("discount_codes"):
        return
    from omnichannel.offers.services import claim_order_codes

    claim_order_codes(event, profile)
