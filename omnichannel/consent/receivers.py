"""Reactions to anymail's tracking and inbound signals.

Bounces, complaints and provider-side rejections put the address on the email
suppression list; complaints and provider-side unsubscribes also withdraw email
marketing consent. The channels package's anymail receiver calls
``handle_tracking_event`` once per tracking event, in the transaction that also
records the event on the delivery, so each change is written once. Mail to
``UNSUBSCRIBE_MAILTO`` unsubscribes by the token in its subject.
"""

from __future__ import annotations

import logging
from typing import Any

from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel, Purpose, Suppression
from omnichannel.consent.services import normalise_address, set_consent, suppress
from omnichannel.consent.unsubscribe import handle_unsubscribe_mail
from omnichannel.profiles.models import Identity, Profile

logger = logging.getLogger(__name__)

Reason = Suppression.Reason
# anymail reject reasons that mean the address must not be tried again.
REJECT_REASONS = {
    "bounced": Reason.BOUNCE,
    "invalid": Reason.REJECTED,
    "timed_out": Reason.REJECTED,
    "spam": Reason.COMPLAINT,
}


def handle_tracking_event(
    event: Any,
    esp_name: str,
    *,
    profile: Profile | None = None,
    recipient: str | None = None,
) -> None:
    """Apply one anymail tracking event to the suppression list and the ledger.

    ``profile`` is the recipient's profile when the caller knows it (from the
    delivery the event is about); otherwise the profile that owns the address
    is looked up. ``recipient`` is used when the event names no recipient.
    """
    recipient = getattr(event, "recipient", None) or recipient
    if not recipient:
        return
    event_type = event.event_type
    details = {
        "esp": esp_name,
        "event": event_type,
        "event_id": getattr(event, "event_id", None),
        "message_id": getattr(event, "message_id", None),
    }
    at = getattr(event, "timestamp", None)
    if event_type == "bounced":
        suppress(Channel.EMAIL, recipient, Reason.BOUNCE, details=details, at=at)
    elif event_type == "complained":
        suppress(Channel.EMAIL, recipient, Reason.COMPLAINT, details=details, at=at)
        _withdraw(recipient, profile, "esp-complaint", details, at)
    elif event_type == "unsubscribed":
        _withdraw(recipient, profile, "esp-unsubscribe", details, at)
    elif event_type == "rejected":
        reason = getattr(event, "reject_reason", None)
        if reason in REJECT_REASONS:
            suppress(
                Channel.EMAIL, recipient, REJECT_REASONS[reason], details=details, at=at
            )
        elif reason == "unsubscribed":
            _withdraw(recipient, profile, "esp-unsubscribe", details, at)


def _withdraw(
    address: str,
    profile: Profile | None,
    source: str,
    details: dict[str, Any],
    at: Any,
) -> None:
    email = normalise_address(Channel.EMAIL, address)
    if profile is None:
        identity = (
            Identity.objects.filter(kind=Identity.Kind.EMAIL, value=email)
            .select_related("profile")
            .first()
        )
        if identity is None:
            logger.info("no profile has the address of a %s event", source)
            return
        profile = identity.profile
    set_consent(
        profile,
        Channel.EMAIL,
        False,
        purpose=Purpose.MARKETING,
        at=at,
        source=source,
        address=email,
        proof=details,
    )


def handle_inbound_mail(message: Any) -> bool:
    """Unsubscribe by an inbound mail sent to ``UNSUBSCRIBE_MAILTO``; return whether
    the mail was for that mailbox and held a valid token."""
    mailbox = (app_settings.UNSUBSCRIBE_MAILTO or "").lower()
    if not mailbox or message is None:
        return False
    recipients = {
        (address.addr_spec or "").lower()
        for address in (getattr(message, "to", None) or [])
    }
    envelope = getattr(message, "envelope_recipient", None)
    if envelope:
        recipients.add(envelope.lower())
    if mailbox not in recipients:
        return False
    return handle_unsubscribe_mail(getattr(message, "subject", "") or "")
