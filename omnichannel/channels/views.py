"""Public endpoints: tracking pixel, click and short-link redirects, web push
subscriptions and its service worker, and on-site messages."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

from django.core import signing
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from omnichannel.channels import links, onsite, tracking
from omnichannel.channels.models import Delivery, ShortLink, WebPushSubscription
from omnichannel.channels.registry import backend_config
from omnichannel.profiles.services import join_visitor, profile_for_request
from omnichannel.security.ratelimit import rate_limit

logger = logging.getLogger(__name__)

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
SERVICE_WORKER = Path(__file__).resolve().parent.parent / "static" / "omnichannel"
MAX_SUBSCRIPTION_BYTES = 4096


class _Redirect(HttpResponseRedirect):
    allowed_schemes = ["http", "https"]


@rate_limit("tracking")
@never_cache
@require_GET
def track_open(request: HttpRequest, token: str) -> HttpResponse:
    """Return the pixel; record the open when the token is genuine."""
    try:
        delivery_id = links.read_open_token(token)
    except signing.BadSignature:
        delivery_id = None
    if delivery_id is not None:
        delivery = (
            Delivery.objects.select_related("profile", "template")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is not None:
            tracking.record_open(delivery)
    return HttpResponse(PIXEL, content_type="image/gif")


@rate_limit("tracking")
@never_cache
@require_GET
def track_click(request: HttpRequest, token: str) -> HttpResponse:
    """Redirect to the URL inside the signed token; record the click."""
    try:
        delivery_id, url = links.read_click_token(token)
    except signing.BadSignature:
        raise Http404(_("This link is not valid.")) from None
    delivery = (
        Delivery.objects.select_related("profile", "template")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is not None:
        _record_click(request, delivery, url)
    return _Redirect(url)


def _record_click(request: HttpRequest, delivery: Delivery, url: str) -> None:
    """Record a click and join the browser's visitor cookie to the recipient.

    Both happen only while the recipient consents to tracking. Joining links the
    browsing of this browser, before and after the click, to the profile.
    """
    if tracking.record_click(delivery, url):
        join_visitor(request, delivery.profile, source="link")


@rate_limit("tracking")
@never_cache
@require_GET
def short_link(request: HttpRequest, code: str) -> HttpResponse:
    """Redirect a short link to its stored URL; record the click if tracked.

    A code without a valid signature is rejected before the database is read.
    """
    if not links.is_signed_short_code(code):
        raise Http404(_("This link is not valid."))
    link = (
        ShortLink.objects.select_related("delivery__profile", "delivery__template")
        .filter(code=code)
        .first()
    )
    if link is None:
        raise Http404(_("This link is not valid."))
    if link.delivery is not None:
        _record_click(request, link.delivery, link.url)
    return _Redirect(link.url)


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    if len(request.body) > MAX_SUBSCRIPTION_BYTES:
        return None
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _error(message: str, code: str, field: str = "", status: int = 400) -> JsonResponse:
    body = {"detail": message, "code": code}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


@rate_limit("widget", as_json=True)
@require_http_methods(["POST", "DELETE"])
def webpush_subscription(request: HttpRequest) -> HttpResponse:
    """Store (POST) or remove (DELETE) the browser's PushSubscription.

    The body is the JSON of ``PushSubscription.toJSON()``: ``endpoint`` and
    ``keys`` with ``p256dh`` and ``auth``.
    """
    data = _json_body(request)
    if data is None:
        return _error(
            _("The body must be a JSON object of at most 4 KiB."), "invalid_json"
        )
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("https://"):
        return _error(
            _("endpoint must be the https URL of the push subscription."),
            "invalid",
            "endpoint",
        )
    if request.method == "DELETE":
        WebPushSubscription.objects.filter(endpoint=endpoint).delete()
        return HttpResponse(status=204)
    keys = data.get("keys")
    if not isinstance(keys, dict):
        return _error(_("keys must hold p256dh and auth."), "invalid", "keys")
    for name, limit in (("p256dh", 200), ("auth", 100)):
        value = keys.get(name)
        if not isinstance(value, str) or not value or len(value) > limit:
            return _error(
                _("keys.%(name)s must be a base64url string.") % {"name": name},
                "invalid",
                f"keys.{name}",
            )
    profile = profile_for_request(request, create=True)
    if profile is None:
        return _error(
            _("The visitor is unknown; enable OmnichannelMiddleware."),
            "no_profile",
            status=409,
        )
    WebPushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "profile": profile,
            "p256dh": keys["p256dh"],
            "auth": keys["auth"],
            "user_agent": request.headers.get("User-Agent", "")[:500],
        },
    )
    return JsonResponse({"status": "subscribed"}, status=201)


@require_GET
def webpush_key(request: HttpRequest) -> JsonResponse:
    """Return the VAPID public key that browsers subscribe with."""
    _path, options = backend_config("webpush")
    key = options.get("VAPID_PUBLIC_KEY", "")
    if not key:
        return _error(_("Web push is not configured."), "not_configured", status=404)
    return JsonResponse({"public_key": key})


@require_GET
def webpush_service_worker(request: HttpRequest) -> HttpResponse:
    """Serve the service worker from the site's root scope."""
    script = (SERVICE_WORKER / "webpush-sw.js").read_text(encoding="utf-8")
    response = HttpResponse(script, content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@rate_limit("widget", as_json=True)
@never_cache
@require_GET
def onsite_messages(request: HttpRequest) -> JsonResponse:
    """Return the visitor's pending on-site messages and mark them shown."""
    profile = profile_for_request(request)
    if profile is None:
        return JsonResponse({"messages": []})
    messages = list(onsite.pending_onsite_messages(profile)[:5])
    onsite.mark_shown(messages)
    return JsonResponse(
        {
            "messages": [
                {
                    "id": message.pk,
                    "title": message.title,
                    "body": message.body,
                    "url": message.url,
                }
                for message in messages
            ]
        }
    )


@rate_limit("widget", as_json=True)
@require_http_methods(["POST"])
def onsite_dismiss(request: HttpRequest, message_id: int) -> HttpResponse:
    """Dismiss one on-site message of the visitor."""
    profile = profile_for_request(request)
    if profile is None or not onsite.dismiss(profile, message_id):
        return _error(_("No such message."), "not_found", status=404)
    return HttpResponse(status=204)
