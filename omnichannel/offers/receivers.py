"""Connect offers to the event log: an order that carries a code claims the offer."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from omnichannel.profiles.events import ORDER_EVENT
from omnichannel.profiles.signals import events_tracked


@receiver(events_tracked, dispatch_uid="omnichannel-offers-claim")
def claim_offers_of_orders(sender: Any, events: Any, **kwargs: Any) -> None:
    """Claim the offer codes that orders used, inside the orders' transaction.

    Whatever channel reported the order (a shop adapter, the events API for the app
    or a till), the claim commits or rolls back with it. A rejected code raises
    OfferCodeRejected, which rolls the order event back too, and with it every
    event stored in the same call.
    """
    orders = [
        event
        for event in events
        if event.name == ORDER_EVENT and event.properties.get("discount_codes")
    ]
    if not orders:
        return
    from omnichannel.offers.services import claim_order_codes
    from omnichannel.profiles.services import load_profiles

    load_profiles(orders)
    for order in orders:
        claim_order_codes(order, order.profile)
