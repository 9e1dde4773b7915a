"""Signals sent by the conversations domain.

Each is sent after the transaction that made the change commits.
"""

from django.dispatch import Signal

#: A conversation was opened. Arguments: ``conversation`` (Conversation).
conversation_opened = Signal()

#: A message was added to a conversation, by anyone.
#: Arguments: ``message`` (Message), ``conversation`` (Conversation).
message_created = Signal()

#: A conversation passed from the bot to the human queue.
#: Arguments: ``conversation`` (Conversation).
conversation_handed_over = Signal()

#: A conversation was closed. Arguments: ``conversation`` (Conversation).
conversation_closed = Signal()
