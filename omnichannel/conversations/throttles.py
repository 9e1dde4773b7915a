"""Rate limits of the chat API, per visitor cookie and per client IP address.

Each view names a scope (``start``, ``message``, ``read``); ``CHAT_RATE_LIMITS``
gives the rate of each scope per key kind, such as ``"20/min"``. Counts live in the
cache named by ``CHAT_RATE_LIMIT_CACHE`` in fixed windows, incremented atomically,
so several processes share them when that cache is shared (Redis, Memcached).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from omnichannel.conf import app_settings

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


def client_ip(request: Request) -> str:
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


class ChatRateThrottle(BaseThrottle):
    """Fixed-window limit on the view's ``throttle_scope`` for one key kind."""

    kind = ""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def ident(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        rates = app_settings.CHAT_RATE_LIMITS or {}
        rate = (rates.get(scope) or {}).get(self.kind)
        if not rate:
            return True
        ident = self.ident(request)
        if not ident:
            return True
        limit, seconds = parse_rate(rate)
        now = time.time()
        window = int(now // seconds)
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        key = f"omnichannel:chat:{scope}:{self.kind}:{digest}:{window}"
        cache = caches[app_settings.CHAT_RATE_LIMIT_CACHE]
        cache.add(key, 0, seconds + 1)
        try:
            hits = cache.incr(key)
        except ValueError:
            # The window expired between add() and incr().
            cache.set(key, 1, seconds + 1)
            hits = 1
        self.retry_after = seconds - (now % seconds)
        return hits <= limit

    def wait(self) -> float | None:
        return self.retry_after


class VisitorRateThrottle(ChatRateThrottle):
    """Limits one browser, by its visitor cookie."""

    kind = "visitor"

    def ident(self, request: Request) -> str | None:
        return getattr(request._request, "omnichannel_visitor_id", None)


class IPRateThrottle(ChatRateThrottle):
    """Limits one client address, whatever cookies it sends."""

    kind = "ip"

    def ident(self, request: Request) -> str | None:
        return client_ip(request) or None
