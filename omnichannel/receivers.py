"""Signal handlers connected when the app is ready."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from omnichannel.conversations import receivers as conversation_receivers  # noqa: F401
from omnichannel.exceptions import InvalidIdentifier
from omnichannel.journeys import receivers as journey_receivers  # noqa: F401
from omnichannel.offers import receivers as offer_receivers  # noqa: F401

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
