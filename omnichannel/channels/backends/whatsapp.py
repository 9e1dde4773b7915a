"""WhatsApp template messages through the WhatsApp Business Cloud API.

Outside a customer service window WhatsApp delivers only templates approved in
advance, so every message names one; the rendered body gives its parameters, one
per line, in order.
"""

from __future__ import annotations

from typing import Any

from omnichannel.channels.backends.base import (
    HTTPBackend,
    OutgoingMessage,
    SendResult,
    e164_address,
    http_status_error,
)
from omnichannel.consent.models import Channel
from omnichannel.exceptions import InvalidAddress, ProviderError
from omnichannel.profiles.models import Profile

# Cloud API error codes: throughput and pair rate limits, worth a later retry.
RATE_LIMIT_CODES = {4, 80007, 130429, 131048, 131056}
# The recipient cannot receive WhatsApp messages.
UNDELIVERABLE_CODES = {131026}
# The API is temporarily unavailable.
TEMPORARY_CODES = {1, 2, 131000, 131016}


class WhatsAppBackend(HTTPBackend):
    """Send template messages with the Cloud API's ``/messages`` endpoint.

    Options: ``PHONE_NUMBER_ID``, ``ACCESS_TOKEN``, ``API_VERSION`` (default
    ``v21.0``), ``API_URL`` (default ``https://graph.facebook.com``), ``TIMEOUT``.
    The template name and language come from the message template.
    """

    channel = "whatsapp"
    consent_channel = Channel.WHATSAPP
    default_api_url = "https://graph.facebook.com"

    def get_addresses(self, profile: Profile) -> list[str]:
        return [e164_address(profile)]

    def build_payload(self, message: OutgoingMessage) -> dict[str, Any]:
        metadata = message.metadata
        parameters = [
            {"type": "text", "text": value} for value in message.rendered.parameters
        ]
        template: dict[str, Any] = {
            "name": metadata.get("whatsapp_template", ""),
            "language": {"code": metadata.get("whatsapp_language") or "en"},
        }
        if parameters:
            template["components"] = [{"type": "body", "parameters": parameters}]
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to[0].lstrip("+"),
            "type": "template",
            "template": template,
        }

    def send(self, message: OutgoingMessage) -> SendResult:
        for name in ("PHONE_NUMBER_ID", "ACCESS_TOKEN"):
            if not self.option(name):
                raise ProviderError(
                    f"WhatsAppBackend needs the {name} option.", retryable=False
                )
        version = self.option("API_VERSION", "v21.0")
        response = self.request(
            "POST",
            f"{self.api_url}/{version}/{self.option('PHONE_NUMBER_ID')}/messages",
            json=self.build_payload(message),
            headers={"Authorization": f"Bearer {self.option('ACCESS_TOKEN')}"},
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code == 200:
            messages = payload.get("messages") or [{}]
            message_id = messages[0].get("id", "")
            if not message_id:
                raise ProviderError("WhatsApp answered without a message id.")
            return SendResult(provider_message_id=str(message_id))
        error = payload.get("error") or {}
        code = error.get("code")
        text = str(error.get("message", ""))[:200]
        if code in UNDELIVERABLE_CODES:
            raise InvalidAddress(f"WhatsApp cannot deliver to the number ({code}).")
        failure = http_status_error(response, text, code=str(code or ""))
        if code in RATE_LIMIT_CODES or code in TEMPORARY_CODES:
            failure.retryable = True
        raise failure
