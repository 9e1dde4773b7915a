"""Fixed-window counters that limit how often one client may check offer codes.

Each check counts against the client's IP address and, when known, the customer's
profile. A window is ``OFFER_CODE_CHECK_WINDOW`` long and starts at a multiple of
its length since the epoch, so every process sharing the cache counts in the same
window.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.core.cache import caches

from omnichannel.conf import app_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "omnichannel:offers:checks"


@dataclass(frozen=True)
class Limited:
    """A rejected check: which counter was full and how long until it empties."""

    scope: str
    retry_after: int


def _count(scope: str, identifier: str, window: int, now: float) -> tuple[int, int]:
    """Add one to the counter; return the new count and the seconds left in it."""
    cache = caches[app_settings.OFFER_RATE_LIMIT_CACHE]
    started = int(now // window) * window
    key = f"{KEY_PREFIX}:{scope}:{identifier}:{started}"
    # add() is a no-op when the key exists, so two processes starting a window
    # at once do not reset each other's count.
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add() and incr().
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return count, max(int(started + window - now), 1)


def hit(ip: str, profile_id: int | None, *, now: float | None = None) -> Limited | None:
    """Count one code check; return Limited when the IP or the profile is over its
    limit, else None. Both counters are counted even when one is full."""
    now = time.time() if now is None else now
    window = max(int(app_settings.OFFER_CODE_CHECK_WINDOW.total_seconds()), 1)
    checks = [("ip", ip or "unknown", app_settings.OFFER_CODE_CHECKS_PER_IP)]
    if profile_id is not None:
        checks.append(
            ("profile", str(profile_id), app_settings.OFFER_CODE_CHECKS_PER_PROFILE)
        )
    rejected = None
    for scope, identifier, limit in checks:
        count, wait = _count(scope, identifier, window, now)
        if count <= limit:
            continue
        if count == limit + 1:
            # Logged once per window and client, not on every rejected check.
            logger.warning(
                "offer code checks over the %s limit of %d (profile %s); rejected "
                "for %d s",
                scope,
                limit,
                profile_id,
                wait,
            )
        if rejected is None or wait > rejected.retry_after:
            rejected = Limited(scope, wait)
    return rejected
