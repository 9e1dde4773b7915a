"""Routing of conversations to the configured bot or to the human queue."""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured

from omnichannel.conf import app_settings
from omnichannel.conversations import services
from omnichannel.conversations.bots.base import BaseBot, BotReply
from omnichannel.conversations.models import Conversation, Message

logger = logging.getLogger(__name__)


def load_bot() -> BaseBot | None:
    """Return an instance of the bot in ``CONVERSATION_BOT``, or None without one.

    Raises ImproperlyConfigured when the path does not name a BaseBot subclass.
    """
    path = app_settings.CONVERSATION_BOT
    if not path:
        return None
    try:
        bot_class = app_settings.import_path("CONVERSATION_BOT")
    except ImportError as error:
        raise ImproperlyConfigured(
            f"OMNICHANNEL['CONVERSATION_BOT'] = {path!r} cannot be imported: {error}"
        ) from error
    if not (isinstance(bot_class, type) and issubclass(bot_class, BaseBot)):
        raise ImproperlyConfigured(
            f"OMNICHANNEL['CONVERSATION_BOT'] = {path!r} is not a subclass of "
            "omnichannel.conversations.bots.base.BaseBot."
        )
    return bot_class()


def initial_handler(channel: str) -> str:
    """Return the handler (bot or human) of a new conversation on ``channel``."""
    if (
        app_settings.CONVERSATION_BOT
        and channel in app_settings.CONVERSATION_BOT_CHANNELS
    ):
        return Conversation.Handler.BOT
    return Conversation.Handler.HUMAN


def answer_with_bot(message_id: int) -> BotReply | None:
    """Let the bot reply to one customer message; hand over when it cannot.

    Does nothing when the conversation is closed, a human has taken it over, or a
    newer customer message exists (the bot replies to that one instead).
    """
    message = (
        Message.objects.select_related("conversation", "conversation__profile")
        .filter(pk=message_id, author=Message.Author.CUSTOMER)
        .first()
    )
    if message is None:
        return None
    conversation = message.conversation
    if not conversation.is_open or conversation.handler != Conversation.Handler.BOT:
        return None
    newer = conversation.messages.filter(
        author=Message.Author.CUSTOMER, id__gt=message.pk
    ).exists()
    if newer:
        return None
    if message.channel not in app_settings.CONVERSATION_BOT_CHANNELS:
        services.hand_over(conversation)
        return None

    try:
        bot = load_bot()
        if bot is None:
            reply = BotReply(hand_over=True)
        else:
            reply = bot.reply(conversation, message)
    except Exception:
        logger.exception(
            "bot failed on message %s of conversation %s; handing over",
            message.pk,
            conversation.pk,
        )
        reply = BotReply(hand_over=True)

    if reply.text:
        services.add_bot_message(conversation, reply.text, answered=not reply.hand_over)
    if reply.hand_over:
        services.hand_over(conversation)
    return reply
