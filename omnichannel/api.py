"""The public Python API of the app.

Shop code calls these; everything else is internal and may change.
"""

from omnichannel.profiles.services import identify, profile_for_request, track

__all__ = ["identify", "profile_for_request", "track"]
