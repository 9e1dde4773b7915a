"""Signal handlers of the conversations domain, connected when the app is ready."""

from __future__ import annotations

from typing import Any

from anymail.signals import inbound
from django.dispatch import receiver


@receiver(inbound, dispatch_uid="omnichannel-conversations-anymail-inbound")
def add_anymail_inbound_email(
    sender: Any, event: Any, esp_name: str = "", **kwargs: Any
) -> None:
    """Add an email that arrived through one of anymail's inbound webhooks."""
    from omnichannel.conversations.inbound import handle_anymail_inbound

    handle_anymail_inbound(event, esp_name)
