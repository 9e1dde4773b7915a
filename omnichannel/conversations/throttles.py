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
from rest_framework.throttling import BaseThrottle

from omnichannel.conf import app_settings
from omnichannel.security.ratelimit import client_ip, parse_rate

__all__ = [
    "ChatRateThrottle",
    "IPRateThrottle",
    "VisitorRateThrottle",
    "client_ip",
    "parse_rate",
]


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
