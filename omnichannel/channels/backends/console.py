"""A backend that writes each message to a stream, for development."""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from omnichannel.channels.backends.base import BaseBackend, OutgoingMessage, SendResult
from omnichannel.channels.backends.email import EmailBackend
from omnichannel.channels.backends.onsite import OnsiteBackend
from omnichannel.channels.backends.push import PushBackend
from omnichannel.channels.backends.sms import SMSBackend
from omnichannel.channels.backends.webhook import WebhookBackend
from omnichannel.channels.backends.webpush import WebPushBackend
from omnichannel.channels.backends.whatsapp import WhatsAppBackend

ADDRESS_SOURCES: dict[str, type[BaseBackend]] = {
    "email": EmailBackend,
    "sms": SMSBackend,
    "push": PushBackend,
    "webpush": WebPushBackend,
    "whatsapp": WhatsAppBackend,
    "webhook": WebhookBackend,
    "onsite": OnsiteBackend,
}


class ConsoleBackend(BaseBackend):
    """Print messages of any channel instead of sending them.

    The ``CHANNEL`` option names the channel whose addresses it looks up; the
    registry sets it. Meant for development: it prints bodies and addresses.
    """

    def __init__(self, *, stream: TextIO | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.stream = stream
        self.channel = options.get("CHANNEL", "")  # type: ignore[misc]
        source = ADDRESS_SOURCES.get(self.channel, BaseBackend)
        self.address_source = source(**options)
        self.consent_channel = source.consent_channel  # type: ignore[misc]
        self._lock = threading.Lock()
        self._count = 0

    def get_addresses(self, profile: Any) -> list[str]:
        return self.address_source.get_addresses(profile)

    def send(self, message: OutgoingMessage) -> SendResult:
        rendered = message.rendered
        stream = self.stream or sys.stdout
        with self._lock:
            self._count += 1
            number = self._count
            lines = [
                f"--- {message.channel} message {number} to {', '.join(message.to)}",
            ]
            if rendered.subject:
                lines.append(f"Subject: {rendered.subject}")
            if rendered.sms is not None:
                lines.append(
                    f"Encoding: {rendered.sms.encoding}, {rendered.sms.units} units, "
                    f"{rendered.sms.segments} segments"
                )
            lines.append(rendered.text)
            if rendered.url:
                lines.append(f"Link: {rendered.url}")
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        return SendResult(provider_message_id=f"console-{message.channel}-{number}")
