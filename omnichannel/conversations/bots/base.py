"""The interface a chat bot implements.

``OMNICHANNEL["CONVERSATION_BOT"]`` names a subclass of :class:`BaseBot` by dotted
path. The app creates one instance per reply and calls :meth:`BaseBot.reply` after
the customer's message is committed, in a Celery task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omnichannel.conversations.models import Conversation, Message


@dataclass(frozen=True)
class BotReply:
    """A bot's reply: a text (may be empty) and whether a human takes over.

    With ``hand_over`` set, the text is shown first and the conversation then goes
    to the human queue; an empty text shows the default hand-over notice.
    """

    text: str = ""
    hand_over: bool = False


class BaseBot:
    """Base class of bots. Override :meth:`reply`."""

    def reply(self, conversation: Conversation, message: Message) -> BotReply:
        """Return the reply to the customer's ``message``.

        Raising any exception hands the conversation over to a human, so a broken
        bot never leaves a customer without a reply.
        """
        raise NotImplementedError
