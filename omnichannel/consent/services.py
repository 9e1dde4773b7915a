"""Recording and reading consent, and the suppression list."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from omnichannel.consent.models import (
    PHONE_CHANNELS,
    Channel,
    ConsentRecord,
    Purpose,
    Suppression,
    Topic,
)
from omnichannel.exceptions import InvalidIdentifier, ProfileErased
from omnichannel.profiles.models import Profile
from omnichannel.profiles.normalise import normalise_email, normalise_phone

logger = logging.getLogger(__name__)


def record_consent(
    profile: Profile,
    channel: str,
    granted: bool,
    *,
    purpose: str = Purpose.MARKETING,
    topic: str = "",
    source: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    wording_version: str = "",
    proof: dict | None = None,
    address: str | None = None,
    at: datetime | None = None,
) -> ConsentRecord:
    """Append one grant or withdrawal to the ledger.

    ``address`` defaults to the profile's email for email and its phone for phone
    channels, so the proof names what the consent was given for.
    """
    if channel not in Channel.values:
        raise ValueError(f"Unknown channel {channel!r}; use one of {Channel.values}.")
    if purpose not in Purpose.values:
        raise ValueError(f"Unknown purpose {purpose!r}; use one of {Purpose.values}.")
    if profile.erased_at is not None and granted:
        raise ProfileErased(f"Profile {profile.pk} was erased; it cannot consent.")
    if at is not None and timezone.is_naive(at):
        raise ValueError("at must be timezone-aware.")
    record = ConsentRecord.objects.create(
        profile=profile,
        channel=channel,
        purpose=purpose,
        topic=topic,
        granted=granted,
        recorded_at=at or timezone.now(),
        address=(address if address is not None else _address_of(profile, channel))[
            :255
        ],
        source=source[:64],
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:500],
        wording_version=wording_version[:64],
        proof=proof or {},
    )
    logger.info(
        "consent %s for profile %s on %s/%s%s (source %s)",
        "granted" if granted else "withdrawn",
        profile.pk,
        channel,
        purpose,
        f"/{topic}" if topic else "",
        source or "-",
    )
    return record


def _address_of(profile: Profile, channel: str) -> str:
    if channel == Channel.EMAIL:
        return profile.email
    if channel in PHONE_CHANNELS:
        return profile.phone
    return ""


def latest_record(
    profile: Profile,
    channel: str,
    purpose: str = Purpose.MARKETING,
    at: datetime | None = None,
    *,
    topic: str = "",
) -> ConsentRecord | None:
    """Return the ledger row in force at ``at`` for the channel, purpose and topic."""
    return (
        ConsentRecord.objects.filter(
            profile=profile,
            channel=channel,
            purpose=purpose,
            topic=topic,
            recorded_at__lte=at or timezone.now(),
        )
        .order_by("-recorded_at", "-id")
        .first()
    )


def has_consent(
    profile: Profile,
    channel: str,
    purpose: str = Purpose.MARKETING,
    at: datetime | None = None,
    *,
    topic: str = "",
) -> bool:
    """Tell whether the ledger allows sending to ``profile`` at ``at``.

    It reads the ledger every time, never a copy, so a withdrawal one second before a
    send stops it. Marketing and profiling need a grant as the latest row;
    service messages are allowed unless the latest row withdraws them, because
    they rest on the contract, not on consent. With ``topic``, the customer must
    also not have opted out of that topic. An erased profile has no consent.
    """
    if profile.erased_at is not None:
        return False
    at = at or timezone.now()
    rows = ConsentRecord.objects.filter(
        profile=profile,
        channel=channel,
        purpose=purpose,
        topic__in=[""] + ([topic] if topic else []),
        recorded_at__lte=at,
    ).order_by("-recorded_at", "-id")
    latest: dict[str, bool] = {}
    for row_topic, granted in rows.values_list("topic", "granted"):
        latest.setdefault(row_topic, granted)
        if len(latest) == (2 if topic else 1):
            break
    default = purpose == Purpose.TRANSACTIONAL
    if not latest.get("", default):
        return False
    return latest.get(topic, True) if topic else True


@dataclass
class ConsentState:
    """The consent in force for one channel and purpose, with the row that set it."""

    channel: str
    purpose: str
    granted: bool
    record: ConsentRecord | None
    topics_opted_out: list[str]


def consent_state(
    profile: Profile,
    at: datetime | None = None,
    *,
    purpose: str = Purpose.MARKETING,
) -> dict[str, ConsentState]:
    """Return the state in force per channel for one purpose, derived from the
    ledger."""
    at = at or timezone.now()
    rows = ConsentRecord.objects.filter(
        profile=profile, purpose=purpose, recorded_at__lte=at
    ).order_by("-recorded_at", "-id")
    whole: dict[str, ConsentRecord] = {}
    topics: dict[tuple[str, str], bool] = {}
    for row in rows:
        if row.topic:
            topics.setdefault((row.channel, row.topic), row.granted)
        else:
            whole.setdefault(row.channel, row)
    states = {}
    default = purpose == Purpose.TRANSACTIONAL
    for channel in Channel.values:
        record = whole.get(channel)
        states[channel] = ConsentState(
            channel=channel,
            purpose=purpose,
            granted=record.granted if record else default,
            record=record,
            topics_opted_out=sorted(
                topic
                for (row_channel, topic), granted in topics.items()
                if row_channel == channel and not granted
            ),
        )
    return states


def set_consent(
    profile: Profile,
    channel: str,
    granted: bool,
    *,
    purpose: str = Purpose.MARKETING,
    topic: str = "",
    at: datetime | None = None,
    **proof: Any,
) -> ConsentRecord | None:
    """Record a change only when it changes the state in force; return the new row.

    Used where a repeated action must not add rows: an unsubscribe link clicked
    twice, a preference centre saved without changes.
    """
    with transaction.atomic():
        # Two clicks at once must not both see "no change yet" and both write.
        Profile.objects.select_for_update().filter(pk=profile.pk).first()
        current = latest_record(profile, channel, purpose, at, topic=topic)
        if current is not None and current.granted == granted:
            return None
        allowed_without_row = purpose == Purpose.TRANSACTIONAL or bool(topic)
        if current is None and granted and allowed_without_row:
            return None
        # A withdrawal with no earlier row is still recorded: it documents the
        # customer's objection.
        return record_consent(
            profile, channel, granted, purpose=purpose, topic=topic, at=at, **proof
        )


def active_topics() -> list[Topic]:
    return list(Topic.objects.filter(is_active=True))


def normalise_address(channel: str, address: str) -> str:
    """Return ``address`` in the form the suppression list stores for ``channel``."""
    address = (address or "").strip()
    try:
        if channel == Channel.EMAIL:
            return normalise_email(address)
        if channel in PHONE_CHANNELS:
            return normalise_phone(address)
    except InvalidIdentifier:
        return address.lower()
    return address


def suppress(
    channel: str,
    address: str,
    reason: str,
    *,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> tuple[Suppression, bool]:
    """Put an address on the suppression list of a channel; return (row, created).

    An address already listed keeps its first reason and time.
    """
    normalised = normalise_address(channel, address)
    if not normalised:
        raise ValueError("address is empty.")
    row, created = Suppression.objects.get_or_create(
        channel=channel,
        address=normalised,
        defaults={
            "reason": reason,
            "created_at": at or timezone.now(),
            "details": details or {},
        },
    )
    if created:
        logger.info("suppressed an address on %s (reason %s)", channel, reason)
    return row, created


def unsuppress(channel: str, address: str, *, reasons: list[str] | None = None) -> int:
    """Remove an address from the suppression list; return the rows removed.

    With ``reasons``, only a row with one of those reasons is removed, so a START
    keyword does not undo a bounce.
    """
    rows = Suppression.objects.filter(
        channel=channel, address=normalise_address(channel, address)
    )
    if reasons is not None:
        rows = rows.filter(reason__in=reasons)
    deleted, _ = rows.delete()
    return deleted


def is_suppressed(channel: str, address: str) -> bool:
    """Tell whether ``address`` is on the suppression list of ``channel``."""
    return Suppression.objects.filter(
        channel=channel, address=normalise_address(channel, address)
    ).exists()
