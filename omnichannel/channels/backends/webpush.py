"""Web push with VAPID through pywebpush, to the profile's browser subscriptions."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.utils import timezone
from pywebpush import WebPushException, webpush

from omnichannel.channels.backends.base import (
    BaseBackend,
    OutgoingMessage,
    SendResult,
    http_status_error,
)
from omnichannel.channels.models import WebPushSubscription
from omnichannel.consent.models import Channel
from omnichannel.exceptions import InvalidAddress, ProviderError
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

# Push services answer 404 or 410 for a subscription that has expired or was
# revoked by the browser; it never works again.
GONE_STATUSES = {404, 410}
DEFAULT_TTL_SECONDS = 24 * 3600


class WebPushBackend(BaseBackend):
    """Send a JSON payload (``title``, ``body``, ``url``) to each subscription.

    Options: ``VAPID_PRIVATE_KEY`` (PEM text, a path to a PEM file, or the raw key
    in base64url), ``VAPID_PUBLIC_KEY`` (base64url, given to browsers when they
    subscribe), ``VAPID_SUBJECT`` (``mailto:`` or ``https:`` contact of the
    sender), ``TTL`` (seconds a push service keeps an undelivered message),
    ``TIMEOUT``.
    """

    channel = "webpush"
    consent_channel = Channel.WEB_PUSH

    def get_addresses(self, profile: Profile) -> list[str]:
        endpoints = list(
            WebPushSubscription.objects.filter(profile=profile).values_list(
                "endpoint", flat=True
            )
        )
        if not endpoints:
            raise InvalidAddress(
                "The profile has no web push subscription.", reason="no_address"
            )
        return endpoints

    def forget_address(self, address: str) -> None:
        WebPushSubscription.objects.filter(endpoint=address).delete()

    def payload(self, message: OutgoingMessage) -> str:
        rendered = message.rendered
        return json.dumps(
            {
                "title": rendered.subject,
                "body": rendered.text,
                "url": rendered.url,
                "delivery_id": message.delivery_id,
            }
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        private_key = self.option("VAPID_PRIVATE_KEY")
        subject = self.option("VAPID_SUBJECT")
        if not private_key or not subject:
            raise ProviderError(
                "WebPushBackend needs the VAPID_PRIVATE_KEY and VAPID_SUBJECT options.",
                retryable=False,
                code="configuration",
            )
        subscriptions = {
            subscription.endpoint: subscription
            for subscription in WebPushSubscription.objects.filter(
                endpoint__in=message.to
            )
        }
        data = self.payload(message)
        result = SendResult()
        reached: list[str] = []
        last_error: ProviderError | None = None
        for endpoint in message.to:
            subscription = subscriptions.get(endpoint)
            if subscription is None:
                continue
            try:
                self._push(subscription, data, private_key, subject)
            except InvalidAddress:
                self.forget_address(endpoint)
                result.rejected.append(endpoint)
                continue
            except ProviderError as error:
                last_error = error
                continue
            reached.append(endpoint)
        if not reached:
            if last_error is not None:
                raise last_error
            raise InvalidAddress("Every web push subscription of the profile is gone.")
        WebPushSubscription.objects.filter(endpoint__in=reached).update(
            last_used_at=timezone.now()
        )
        result.provider_message_id = f"webpush-{message.delivery_id}-{len(reached)}"
        result.details = {"reached": len(reached)}
        return result

    def _push(
        self,
        subscription: WebPushSubscription,
        data: str,
        private_key: str,
        subject: str,
    ) -> Any:
        try:
            return webpush(
                subscription.as_subscription_info(),
                data=data,
                vapid_private_key=private_key,
                vapid_claims={"sub": subject},
                ttl=int(self.option("TTL", DEFAULT_TTL_SECONDS)),
                timeout=float(self.option("TIMEOUT", 10)),
            )
        except WebPushException as error:
            response = error.response
            if response is None:
                raise ProviderError(
                    f"The push service could not be reached: {error.message}",
                    code="network",
                ) from error
            if response.status_code in GONE_STATUSES:
                raise InvalidAddress("The subscription has expired.") from error
            raise http_status_error(response, response.reason or "") from error
        except (OSError, ValueError) as error:
            raise ProviderError(
                f"The push service could not be reached: {error}", code="network"
            ) from error
