"""Reading on-site messages for the shop's pages and the personalisation layer."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from omnichannel.channels.models import OnsiteMessage
from omnichannel.profiles.models import Profile


def pending_onsite_messages(profile: Profile) -> QuerySet[OnsiteMessage]:
    """Return the profile's messages that are neither dismissed nor expired."""
    return OnsiteMessage.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        profile=profile,
        dismissed_at__isnull=True,
    ).order_by("created_at", "id")


def mark_shown(messages: list[OnsiteMessage]) -> None:
    """Stamp the first time each message was shown."""
    ids = [message.pk for message in messages if message.shown_at is None]
    if ids:
        OnsiteMessage.objects.filter(pk__in=ids).update(shown_at=timezone.now())


def dismiss(profile: Profile, message_id: int) -> bool:
    """Dismiss one of the profile's messages; return whether it was found."""
    return bool(
        OnsiteMessage.objects.filter(
            pk=message_id, profile=profile, dismissed_at__isnull=True
        ).update(dismissed_at=timezone.now())
    )
