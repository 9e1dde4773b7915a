"""Visitor cookie, request context and page-view tracking."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from omnichannel import context
from omnichannel.conf import app_settings

logger = logging.getLogger(__name__)

VISITOR_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class OmnichannelMiddleware:
    """Give every browser a visitor id and record page views of real visitors.

    Put it after ``AuthenticationMiddleware``. It sets
    ``request.omnichannel_visitor_id`` and makes the request available to shop
    adapters through ``omnichannel.context``. A response that shows personalised
    content gets ``Vary: Cookie``, so page caches keep one copy per visitor.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cookie_name = app_settings.VISITOR_COOKIE_NAME
        visitor_id = request.COOKIES.get(cookie_name, "")
        is_new = not VISITOR_ID_PATTERN.match(visitor_id)
        if is_new:
            visitor_id = uuid.uuid4().hex
        request.omnichannel_visitor_id = visitor_id  # type: ignore[attr-defined]

        token = context.set_request(request)
        try:
            response = self.get_response(request)
            if should_track(request, response):
                record_page_view(request)
        finally:
            context.reset_request(token)

        if getattr(request, "omnichannel_vary_cookie", False):
            # Personalised content was rendered: a page cache must key the response
            # by the visitor's cookies, or one visitor's banner reaches another.
            patch_vary_headers(response, ("Cookie",))

        if is_new or cookie_name not in request.COOKIES:
            response.set_cookie(
                cookie_name,
                visitor_id,
                max_age=int(app_settings.VISITOR_COOKIE_AGE.total_seconds()),
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response


@lru_cache(maxsize=32)
def _compile(patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    return [re.compile(pattern) for pattern in patterns]


def is_bot(request: HttpRequest) -> bool:
    agent = request.headers.get("User-Agent", "").lower()
    if not agent:
        return True
    return any(word in agent for word in app_settings.BOT_USER_AGENTS)


def is_prefetch(request: HttpRequest) -> bool:
    """Tell whether the browser fetched the page speculatively, not for a visit."""
    purpose = request.headers.get("Sec-Purpose", "") or request.headers.get(
        "Purpose", ""
    )
    return "prefetch" in purpose.lower() or (
        request.headers.get("X-Moz", "").lower() == "prefetch"
    )


def _asset_prefixes() -> list[str]:
    prefixes = []
    for name in ("STATIC_URL", "MEDIA_URL"):
        value = getattr(settings, name, None) or ""
        if value.startswith("/") and value != "/":
            prefixes.append(value)
    return prefixes


def should_track(request: HttpRequest, response: HttpResponse) -> bool:
    """Tell whether a response is a page view of a real visitor worth recording."""
    if not app_settings.TRACK_PAGE_VIEWS or request.method != "GET":
        return False
    if getattr(request, "omnichannel_track", True) is False:
        return False
    if response.status_code != 200:
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    if request.headers.get("HX-Request") or is_prefetch(request):
        return False
    if any(request.path.startswith(prefix) for prefix in _asset_prefixes()):
        return False
    excluded = _compile(tuple(app_settings.TRACK_PATHS_EXCLUDE))
    if any(pattern.search(request.path) for pattern in excluded):
        return False
    return not is_bot(request)


def page_event(request: HttpRequest) -> tuple[str, dict[str, Any]]:
    """Return the event name and properties of a page view.

    A view may set ``request.omnichannel_page = {"event": ..., "properties": ...}``;
    otherwise the path is matched against ``TRACK_PRODUCT_PATHS`` and
    ``TRACK_CATEGORY_PATHS``, whose named groups become properties.
    """
    properties: dict[str, Any] = {"path": request.path[:500]}
    referrer = request.headers.get("Referer")
    if referrer:
        properties["referrer"] = referrer[:500]
    extra = getattr(request, "omnichannel_page", None)
    if isinstance(extra, dict):
        properties.update(extra.get("properties", {}))
        return extra.get("event", "page_viewed"), properties
    for name, setting in (
        ("product_viewed", app_settings.TRACK_PRODUCT_PATHS),
        ("category_viewed", app_settings.TRACK_CATEGORY_PATHS),
    ):
        for pattern in _compile(tuple(setting)):
            match = pattern.search(request.path)
            if match:
                groups = {k: v for k, v in match.groupdict().items() if v is not None}
                properties.update(groups)
                return name, properties
    return "page_viewed", properties


def record_page_view(request: HttpRequest) -> None:
    from omnichannel.profiles.services import track

    name, properties = page_event(request)
    try:
        track(name, request=request, properties=properties, source="web")
    except Exception:
        # Tracking must never break the page the visitor asked for.
        logger.exception("page view on %s not recorded", request.path[:200])
