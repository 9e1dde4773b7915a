"""A backend that keeps messages in memory, for tests."""

from __future__ import annotations

from typing import Any

from omnichannel.channels.backends.base import OutgoingMessage, SendResult
from omnichannel.channels.backends.console import ConsoleBackend
from omnichannel.exceptions import InvalidAddress, ProviderError

#: Every message sent through a LocmemBackend, oldest first. Tests clear it.
outbox: list[OutgoingMessage] = []


class LocmemBackend(ConsoleBackend):
    """Append messages to ``omnichannel.channels.backends.locmem.outbox``.

    ``FAIL_WITH`` (option) makes the next sends fail: a list whose items are
    consumed one per send, each a ProviderError or InvalidAddress to raise.
    """

    def send(self, message: OutgoingMessage) -> SendResult:
        failures: list[Any] = self.options.get("FAIL_WITH", [])
        if failures:
            failure = failures.pop(0)
            if isinstance(failure, ProviderError | InvalidAddress):
                raise failure
        outbox.append(message)
        return SendResult(provider_message_id=f"locmem-{len(outbox)}")
