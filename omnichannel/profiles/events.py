"""The event types the app understands.

Shops add their own through the ``EXTRA_EVENT_TYPES`` setting. An event whose name is
in neither list is rejected, so a typo does not silently start a new stream.
"""

from omnichannel.conf import app_settings
from omnichannel.exceptions import UnknownEventType

BUILTIN_EVENT_TYPES = frozenset(
    {
        # Browsing
        "page_viewed",
        "product_viewed",
        "category_viewed",
        "searched",
        # Cart and orders
        "cart_updated",
        "cart_converted",
        "cart_abandoned",
        "checkout_started",
        "order_placed",
        "order_paid",
        "order_cancelled",
        "order_refunded",
        "discount_code_used",
        "back_in_stock",
        # Account
        "signed_up",
        "logged_in",
        "identified",
        "profile_updated",
        # Messages
        "message_sent",
        "message_delivered",
        "message_opened",
        "message_clicked",
        "message_bounced",
        "message_complained",
        "message_replied",
        "message_failed",
        "message_suppressed",
        "message_converted",
        # Journeys
        "journey_entered",
        "journey_exited",
        "journey_converted",
        # Consent
        "consent_given",
        "consent_withdrawn",
        "unsubscribed",
        # On site and chat
        "banner_viewed",
        "banner_clicked",
        "popup_viewed",
        "popup_submitted",
        "chat_started",
        "chat_message",
        # Offers
        "offer_issued",
        "offer_seen",
        "offer_claimed",
        # Free-form events from apps and POS
        "custom",
    }
)

ORDER_EVENT = "order_placed"

# Things done to a profile, not by it: the shop's own actions and the reports on
# them. They neither move a profile's last visit nor its place in the lifecycle.
PASSIVE_EVENTS = frozenset(
    {
        "message_sent",
        "message_delivered",
        "message_bounced",
        "message_failed",
        "message_suppressed",
        "message_converted",
        "journey_entered",
        "journey_exited",
        "journey_converted",
        "offer_issued",
        "order_cancelled",
        "order_refunded",
        "profile_updated",
    }
)


def known_event_types() -> frozenset[str]:
    """Return the built-in event types plus those named in ``EXTRA_EVENT_TYPES``."""
    return BUILTIN_EVENT_TYPES | frozenset(app_settings.EXTRA_EVENT_TYPES)


def check_event_type(name: str) -> str:
    """Return ``name`` if it is a known event type, or raise UnknownEventType."""
    if name not in known_event_types():
        raise UnknownEventType(
            f"Unknown event type {name!r}. Use one of the built-in types or add it to "
            "OMNICHANNEL['EXTRA_EVENT_TYPES']."
        )
    return name
