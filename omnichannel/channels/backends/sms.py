"""SMS: E.164 addresses, and a provider backend for Twilio's Messages API."""

from __future__ import annotations

from typing import Any

from omnichannel.channels.backends.base import (
    BaseBackend,
    HTTPBackend,
    OutgoingMessage,
    SendResult,
    e164_address,
    http_status_error,
)
from omnichannel.consent.models import Channel
from omnichannel.exceptions import InvalidAddress, ProviderError
from omnichannel.profiles.models import Profile

# Twilio error codes that mean the number will never take this message.
TWILIO_INVALID_NUMBER = {"21211", "21214", "21217", "21401", "21407", "21408", "21614"}
# The recipient replied STOP to this sender.
TWILIO_UNSUBSCRIBED = "21610"


class SMSBackend(BaseBackend):
    """Base of SMS backends: addresses are the profile's phone in E.164 form."""

    channel = "sms"
    consent_channel = Channel.SMS

    def get_addresses(self, profile: Profile) -> list[str]:
        return [e164_address(profile)]


class TwilioSMSBackend(SMSBackend, HTTPBackend):
    """Send through Twilio's Programmable Messaging API (2010-04-01 version).

    Options: ``ACCOUNT_SID``, ``AUTH_TOKEN``, and either ``FROM`` (a number in
    E.164 form) or ``MESSAGING_SERVICE_SID``; ``STATUS_CALLBACK`` (URL, optional);
    ``API_URL`` (default ``https://api.twilio.com``) and ``TIMEOUT`` in seconds.
    """

    default_api_url = "https://api.twilio.com"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in ("ACCOUNT_SID", "AUTH_TOKEN"):
            if not options.get(name):
                raise ValueError(f"TwilioSMSBackend needs the {name} option.")
        if not (options.get("FROM") or options.get("MESSAGING_SERVICE_SID")):
            raise ValueError(
                "TwilioSMSBackend needs the FROM or MESSAGING_SERVICE_SID option."
            )

    def send(self, message: OutgoingMessage) -> SendResult:
        sid = self.option("ACCOUNT_SID")
        data = {"To": message.to[0], "Body": message.rendered.text}
        if self.option("MESSAGING_SERVICE_SID"):
            data["MessagingServiceSid"] = self.option("MESSAGING_SERVICE_SID")
        else:
            data["From"] = self.option("FROM")
        if self.option("STATUS_CALLBACK"):
            data["StatusCallback"] = self.option("STATUS_CALLBACK")
        response = self.request(
            "POST",
            f"{self.api_url}/2010-04-01/Accounts/{sid}/Messages.json",
            data=data,
            auth=(sid, self.option("AUTH_TOKEN")),
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code in (200, 201):
            if not payload.get("sid"):
                raise ProviderError("Twilio answered without a message sid.")
            return SendResult(
                provider_message_id=str(payload["sid"]),
                details={"status": payload.get("status", "")},
            )
        code = str(payload.get("code", ""))
        if code == TWILIO_UNSUBSCRIBED:
            raise InvalidAddress(
                "The recipient unsubscribed from this sender.", reason="suppressed"
            )
        if code in TWILIO_INVALID_NUMBER:
            raise InvalidAddress(f"Twilio rejected the number (error {code}).")
        raise http_status_error(
            response, str(payload.get("message", ""))[:200], code=code
        )
