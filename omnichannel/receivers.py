"""Signal handlers connected when the app is ready."""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import inbound as anymail_inbound
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from omnichannel.conversations import receivers as conversation_receivers  # noqa: F401
from omnichannel.exceptions import InvalidIdentifier

# Each domain's handlers are connected by importing its receivers module.
from omnichannel.journeys import receivers as journey_receivers  # noqa: F401
from omnichannel.offers import receivers as offer_receivers  # noqa: F401
from omnichannel.segments import receivers as segment_receivers  # noqa: F401

logger = logging.getLogger(__name__)


@receiver(user_logged_in, dispatch_uid="omnichannel-user-logged-in")
def join_visitor_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Join the browser's anonymous history to the user's profile."""
    from omnichannel.profiles.services import identify, track

    if request is None:
        return
    email = getattr(user, "email", "") or None
    try:
        profile = identify(request, user=user, email=email, source="login")
    except InvalidIdentifier:
        profile = identify(request, user=user, source="login")
    track("logged_in", profile=profile, source="web")


@receiver(anymail_inbound, dispatch_uid="omnichannel-consent-inbound")
def apply_unsubscribe_mail(
    sender: Any, event: Any, esp_name: str, **kwargs: Any
) -> None:
    """Unsubscribe by mail sent to the List-Unsubscribe mailto address."""
    from omnichannel.consent.receivers import handle_inbound_mail

    handle_inbound_mail(getattr(event, "message", None))
