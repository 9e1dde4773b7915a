"""On-site messages: stored for the profile and shown on its next visit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from omnichannel.channels.backends.base import BaseBackend, OutgoingMessage, SendResult
from omnichannel.channels.models import OnsiteMessage
from omnichannel.db import copy_insert
from omnichannel.profiles.models import Profile

DEFAULT_EXPIRY = timedelta(days=30)


class OnsiteBackend(BaseBackend):
    """Store an OnsiteMessage that the shop's pages fetch and show.

    Options: ``EXPIRES_AFTER`` (timedelta, default 30 days) after which an unseen
    message is no longer shown.
    """

    channel = "onsite"
    consent_channel = None

    def get_addresses(self, profile: Profile) -> list[str]:
        return [f"profile:{profile.pk}"]

    def send(self, message: OutgoingMessage) -> SendResult:
        stored = self._build(message)
        stored.save()
        return SendResult(provider_message_id=f"onsite-{stored.pk}")

    def send_many(self, messages: list[OutgoingMessage]) -> list[Any]:
        """Store every message in one insert."""
        stored = [self._build(message) for message in messages]
        copy_insert(OnsiteMessage, stored)
        return [SendResult(provider_message_id=f"onsite-{row.pk}") for row in stored]

    def _build(self, message: OutgoingMessage) -> OnsiteMessage:
        rendered = message.rendered
        return OnsiteMessage(
            profile_id=message.profile_id,
            delivery_id=message.delivery_id,
            title=rendered.subject,
            body=rendered.html or rendered.text,
            url=rendered.url,
            expires_at=timezone.now() + self.option("EXPIRES_AFTER", DEFAULT_EXPIRY),
        )
