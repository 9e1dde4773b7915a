"""The public Python API of the app.

Shop code calls these; everything else is internal and may change.
"""

from omnichannel.consent.services import has_consent, record_consent
from omnichannel.consent.unsubscribe import build_unsubscribe_headers, unsubscribe_url
from omnichannel.offers.services import check_offer_code
from omnichannel.personalisation.setup import save_banner, save_placement, save_popup
from omnichannel.profiles.services import (
    identify,
    join_visitor,
    profile_for_request,
    record_preference,
    track,
)

__all__ = [
    "build_unsubscribe_headers",
    "check_offer_code",
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
