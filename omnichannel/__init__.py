"""Omnichannel marketing automation inside a Django shop.

The public Python API is ``track()`` and ``identify()``. Everything else is reached
through settings, signals, the admin and the REST API.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["identify", "track", "__version__"]


def track(*args: Any, **kwargs: Any) -> Any:
    """Record an event on a profile; see :func:`omnichannel.api.track`."""
    from omnichannel.api import track as _track

    return _track(*args, **kwargs)


def identify(*args: Any, **kwargs: Any) -> Any:
    """Resolve identifiers to one profile; see :func:`omnichannel.api.identify`."""
    from omnichannel.api import identify as _identify

    return _identify(*args, **kwargs)
