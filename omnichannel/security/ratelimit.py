"""Rate limits of the public endpoints, per API key or per client IP address.

``RATE_LIMITS`` maps a scope (``events``, ``identify``, ``api``, ``tracking``,
``consent_pages``, ``widget``, ``inbound``) to a rate such as ``"600/min"``, or to
None for no limit; scopes left out keep their default rate. Counts live in the
cache named by ``RATE_LIMIT_CACHE`` in fixed windows that start at a multiple of
their length, incremented atomically, so every process sharing that cache (Redis,
Memcached) counts in the same window.

REST views use :class:`ScopedRateThrottle` and name their scope in
``rate_limit_scope``; plain Django views use the :func:`rate_limit` decorator.
Both answer 429 with a ``Retry-After`` header.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import ngettext
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from omnichannel.conf import DEFAULTS, app_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "omnichannel:rate"
SCOPES = (
    "events",
    "identify",
    "api",
    "tracking",
    "consent_pages",
    "widget",
    "inbound",
)
PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}
PERIODS.update({"second": 1, "minute": 60, "day": 86400})


def parse_rate(rate: str) -> tuple[int, int]:
    """Return (requests, seconds) of a rate such as ``"20/min"``.

    Raises ValueError when the rate is not a whole number, a slash and one of
    s, sec, second, m, min, minute, h, hour, d, day.
    """
    try:
        count_text, period = str(rate).split("/")
        count = int(count_text)
        seconds = PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ValueError(
            f"{rate!r} is not a rate; write it as a number, a slash and a period, "
            "such as '20/min' or '5/hour'."
        ) from None
    if count < 1:
        raise ValueError(f"{rate!r} allows no request; use at least 1.")
    return count, seconds


def client_ip(request: HttpRequest | Request) -> str:
    """Return the client address: REMOTE_ADDR, or the X-Forwarded-For entry
    that DRF's ``NUM_PROXIES`` points at when that setting is set.

    Without ``NUM_PROXIES`` the header is ignored, because any client can send it.
    """
    if api_settings.NUM_PROXIES:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            addresses = [part.strip() for part in forwarded.split(",")]
            return addresses[-min(api_settings.NUM_PROXIES, len(addresses))]
    return str(request.META.get("REMOTE_ADDR", ""))


def rates() -> dict[str, str | None]:
    """Return the rate of each scope: the defaults, overridden by RATE_LIMITS."""
    return {**DEFAULTS["RATE_LIMITS"], **(app_settings.RATE_LIMITS or {})}


@dataclass(frozen=True)
class Limited:
    """A rejected request: its scope and the whole seconds until the window ends."""

    scope: str
    retry_after: int

    @property
    def message(self) -> str:
        return ngettext(
            "Too many requests. Try again in %(seconds)d second.",
            "Too many requests. Try again in %(seconds)d seconds.",
            self.retry_after,
        ) % {"seconds": self.retry_after}


def hit(scope: str, ident: str, *, now: float | None = None) -> Limited | None:
    """Count one request of ``ident`` in ``scope`` and return Limited when it is
    over the scope's rate. Return None when it may go on or the scope has no rate."""
    rate = rates().get(scope)
    if not rate or not ident:
        return None
    limit, seconds = parse_rate(rate)
    now = time.time() if now is None else now
    started = int(now // seconds) * seconds
    # The identifier may be an address or a key prefix: keep it out of cache keys.
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    key = f"{KEY_PREFIX}:{scope}:{digest}:{started}"
    cache = caches[app_settings.RATE_LIMIT_CACHE]
    # add() is a no-op when the key exists, so two processes starting a window at
    # once do not reset each other's count.
    cache.add(key, 0, timeout=seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key expired between add() and incr().
        cache.add(key, 1, timeout=seconds + 1)
        count = 1
    if count <= limit:
        return None
    if count == limit + 1:
        logger.warning("rate limit %s reached by client %s", scope, digest[:12])
    return Limited(scope, max(math.ceil(started + seconds - now), 1))


class ScopedRateThrottle(BaseThrottle):
    """Limit a REST view by its ``rate_limit_scope``, per API key or else per IP."""

    def __init__(self) -> None:
        self.limited: Limited | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "rate_limit_scope", None)
        if not scope:
            return True
        key = getattr(request, "auth", None)
        prefix = getattr(key, "prefix", None)
        ident = f"key:{prefix}" if prefix else f"ip:{client_ip(request)}"
        self.limited = hit(scope, ident)
        return self.limited is None

    def wait(self) -> float | None:
        return self.limited.retry_after if self.limited else None


def limited_response(limited: Limited, *, as_json: bool) -> HttpResponse:
    """Return the 429 response of a plain Django view, with ``Retry-After``."""
    if as_json:
        response: HttpResponse = JsonResponse(
            {"detail": limited.message, "code": "throttled"}, status=429
        )
    else:
        response = HttpResponse(
            limited.message, status=429, content_type="text/plain; charset=utf-8"
        )
    response["Retry-After"] = str(limited.retry_after)
    return response


def rate_limit(scope: str, *, as_json: bool = False) -> Callable:
    """Decorate a Django view function so that each client IP is limited to the
    rate of ``scope``; over it, the view is not run and 429 is returned."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            limited = hit(scope, f"ip:{client_ip(request)}")
            if limited is not None:
                return limited_response(limited, as_json=as_json)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
