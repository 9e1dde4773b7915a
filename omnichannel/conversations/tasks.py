"""Celery tasks of the conversations domain."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="omnichannel.conversations.answer_with_bot", acks_late=True)
def answer_with_bot(message_id: int) -> None:
    """Let the configured bot reply to one customer message."""
    from omnichannel.conversations.routing import answer_with_bot as answer

    answer(message_id)


@shared_task(name="omnichannel.conversations.send_reply", acks_late=True)
def send_reply(message_id: int) -> None:
    """Send an agent's reply by email or SMS."""
    from omnichannel.conversations.replies import deliver

    deliver(message_id)


@shared_task(name="omnichannel.conversations.close_idle")
def close_idle() -> int:
    """Close conversations that went quiet; schedule it hourly with celery beat."""
    from omnichannel.conversations.services import close_idle_conversations

    return close_idle_conversations()
