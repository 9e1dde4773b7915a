"""The public Python API of the app.

Shop code calls these; everything else is internal and may change.
"""

from omnichannel.offers.services import check_offer_code
from omnichannel.profiles.services import identify, profile_for_request, track

__all__ = ["check_offer_code", "identify", "profile_for_request", "track"]
