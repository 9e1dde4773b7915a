"""Signed webhooks: a JSON POST to the shop's own systems.

Each request carries ``X-Omnichannel-Timestamp`` (Unix seconds) and
``X-Omnichannel-Signature: v1=<hex>``, the HMAC-SHA256 of ``"{timestamp}.{body}"``
with the shared secret. Receivers check it with ``verify_signature``, which also
rejects requests older than five minutes, so a captured request cannot be replayed
later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from omnichannel.channels.backends.base import (
    HTTPBackend,
    OutgoingMessage,
    SendResult,
    http_status_error,
)
from omnichannel.exceptions import InvalidAddress, ProviderError
from omnichannel.profiles.models import Profile

TIMESTAMP_HEADER = "X-Omnichannel-Timestamp"
SIGNATURE_HEADER = "X-Omnichannel-Signature"
DELIVERY_HEADER = "X-Omnichannel-Delivery"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value of ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Tell whether ``signature`` is valid for ``body`` and recent enough."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = sign(secret, sent_at, body)
    candidates = [part.strip() for part in signature.split(",")]
    return any(hmac.compare_digest(expected, part) for part in candidates)


class WebhookBackend(HTTPBackend):
    """POST each message as JSON to the ``URL`` option, signed with ``SECRET``.

    Options: ``URL``, ``SECRET`` (at least 32 characters), ``HEADERS`` (extra
    headers), ``TIMEOUT``. The body holds the delivery id, template slug, profile
    id and uuid, the rendered subject and text, and the delivery's context. A URL
    on a private, loopback or link-local address is rejected unless
    ``WEBHOOK_ALLOWED_HOSTS`` lists its host.
    """

    channel = "webhook"
    consent_channel = None
    guard_urls = True

    def get_addresses(self, profile: Profile) -> list[str]:
        url = self.option("URL")
        if not url:
            raise InvalidAddress("The webhook backend has no URL.", reason="no_address")
        return [str(url)]

    def body(self, message: OutgoingMessage) -> bytes:
        payload: dict[str, Any] = {
            "delivery_id": message.delivery_id,
            "template": message.template_slug,
            "profile_id": message.profile_id,
            "profile_uuid": message.metadata.get("profile_uuid", ""),
            "subject": message.rendered.subject,
            "text": message.rendered.text,
            "context": message.metadata.get("context", {}),
            "test": message.test,
        }
        return json.dumps(payload, separators=(",", ":"), default=str).encode()

    def send(self, message: OutgoingMessage) -> SendResult:
        secret = self.option("SECRET") or ""
        if len(secret) < 32:
            raise ProviderError(
                "WebhookBackend needs a SECRET of at least 32 characters.",
                retryable=False,
                code="configuration",
            )
        body = self.body(message)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            DELIVERY_HEADER: str(message.delivery_id or ""),
            **self.option("HEADERS", {}),
        }
        response = self.request("POST", message.to[0], data=body, headers=headers)
        if 200 <= response.status_code < 300:
            return SendResult(
                provider_message_id=response.headers.get("X-Request-Id", "")
                or f"webhook-{message.delivery_id}"
            )
        raise http_status_error(response, response.text[:200])
