"""Recording and reading consent."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from omnichannel.consent.models import ConsentRecord, Purpose, Suppression
from omnichannel.profiles.models import Profile


def record_consent(
    profile: Profile,
    channel: str,
    granted: bool,
    *,
    purpose: str = Purpose.MARKETING,
    source: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    wording_version: str = "",
    proof: dict | None = None,
    at: datetime | None = None,
) -> ConsentRecord:
    """Append one grant or withdrawal to the ledger."""
    return ConsentRecord.objects.create(
        profile=profile,
        channel=channel,
        purpose=purpose,
        granted=granted,
        recorded_at=at or timezone.now(),
        source=source,
        ip_address=ip_address,
        user_agent=user_agent[:500],
        wording_version=wording_version,
        proof=proof or {},
    )


def has_consent(
    profile: Profile,
    channel: str,
    purpose: str = Purpose.MARKETING,
    at: datetime | None = None,
) -> bool:
    """Tell whether the latest ledger row at or before ``at`` grants consent.

    It reads the ledger every time, never a copy, so a withdrawal one second before a
    send stops it.
    """
    latest = (
        ConsentRecord.objects.filter(
            profile=profile,
            channel=channel,
            purpose=purpose,
            recorded_at__lte=at or timezone.now(),
        )
        .order_by("-recorded_at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(latest)


def is_suppressed(channel: str, address: str) -> bool:
    """Tell whether ``address`` is on the suppression list of ``channel``."""
    return Suppression.objects.filter(channel=channel, address=address).exists()
