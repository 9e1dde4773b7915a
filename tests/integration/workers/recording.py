"""A channel backend that records each send in a table of the database.

It stands for a provider that accepts an idempotency key: the first send of a
delivery id inserts a row, a repeat only raises ``repeats``. The tests read the
table to prove that each delivery reached the provider once.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.db import connection

from omnichannel.channels.backends.base import BaseBackend, OutgoingMessage, SendResult

TABLE = "it_provider_send"
CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    delivery_id bigint PRIMARY KEY,
    worker_pid integer NOT NULL,
    repeats integer NOT NULL DEFAULT 0,
    sent_at timestamptz NOT NULL DEFAULT now()
)
"""


class RecordingBackend(BaseBackend):
    """Record sends of any channel; addresses are the profile's id."""

    idempotent = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.channel = options.get("CHANNEL", "")  # type: ignore[misc]

    def get_addresses(self, profile: Any) -> list[str]:
        return [f"profile-{profile.pk}"]

    def send(self, message: OutgoingMessage) -> SendResult:
        # A delay widens the window in which a test can break the send.
        delay = float(os.environ.get("OMNICHANNEL_IT_SEND_DELAY", "0"))
        if delay:
            time.sleep(delay)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (delivery_id, worker_pid) VALUES (%s, %s) "
                "ON CONFLICT (delivery_id) "
                f"DO UPDATE SET repeats = {TABLE}.repeats + 1",
                [message.delivery_id, os.getpid()],
            )
        return SendResult(provider_message_id=f"recorded-{message.delivery_id}")
