"""The public Python API of the app.

Shop code calls these; everything else is internal and may change.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from omnichannel.consent.services import has_consent, record_consent
from omnichannel.consent.unsubscribe import build_unsubscribe_headers, unsubscribe_url
from omnichannel.offers.services import check_offer_code
from omnichannel.personalisation.setup import save_banner, save_placement, save_popup
from omnichannel.profiles.services import (
    find_profile,
    identify,
    join_visitor,
    profile_for_request,
    record_preference,
    track,
)

if TYPE_CHECKING:
    from omnichannel.journeys.models import Enrollment, Journey
    from omnichannel.profiles.models import Profile


def enroll(
    journey: Journey | str,
    *,
    profile: Profile | Any = None,
    email: str | None = None,
    phone: str | None = None,
    data: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    object_type: str = "",
    object_id: str = "",
    source: str = "code",
    at: datetime | None = None,
) -> tuple[Enrollment, bool]:
    """Enroll a customer in a journey triggered by code or the API.

    ``journey`` is a Journey or its slug. Name the customer by ``profile`` (a
    Profile or its uuid), ``email`` or ``phone``. Returns the run and whether this
    call started it; a repeated ``idempotency_key`` returns the earlier run.
    Raises JourneyNotFound, ProfileNotFound, InvalidIdentifier, EnrollmentRefused
    (its ``reason`` is a stable code) and ValueError for ``data`` that is not a
    JSON object of at most 32 KiB.
    """
    from omnichannel.exceptions import JourneyNotFound, ProfileNotFound
    from omnichannel.journeys.models import Journey
    from omnichannel.journeys.services import start_enrollment
    from omnichannel.profiles.models import Profile

    if not isinstance(journey, Journey):
        found = (
            Journey.objects.select_related("current_version")
            .filter(slug=journey)
            .first()
        )
        if found is None:
            raise JourneyNotFound(f"No journey has the slug {journey!r}.")
        journey = found
    if profile is None and not email and not phone:
        raise TypeError("Name the customer by profile, email or phone.")
    if isinstance(profile, Profile):
        customer = find_profile(uuid=profile.uuid)
    elif profile is not None:
        customer = find_profile(uuid=profile)
    else:
        customer = find_profile(email=email, phone=phone)
    if customer is None:
        given = profile if profile is not None else email or phone
        raise ProfileNotFound(
            f"No profile matches {given!r}; identify the customer first."
        )
    return start_enrollment(
        journey,
        customer,
        data=data,
        idempotency_key=idempotency_key,
        object_type=object_type,
        object_id=object_id,
        source=source,
        at=at,
    )


__all__ = [
    "build_unsubscribe_headers",
    "check_offer_code",
    "enroll",
    "has_consent",
    "identify",
    "join_visitor",
    "profile_for_request",
    "record_consent",
    "record_preference",
    "save_banner",
    "save_placement",
    "save_popup",
    "track",
    "unsubscribe_url",
]
