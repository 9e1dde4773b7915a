"""Exceptions raised by the app.

Each one subclasses :class:`OmnichannelError` and the built-in exception it resembles,
so callers can catch either.
"""


class OmnichannelError(Exception):
    """Base class of every error the app raises on purpose."""


class InvalidIdentifier(OmnichannelError, ValueError):
    """An email address, phone number or other identifier cannot be used.

    ``field`` names the identifier (``email``, ``phone``, ...) so that forms and API
    responses can attach the message to it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownEventType(OmnichannelError, ValueError):
    """An event name is neither built in nor listed in ``EXTRA_EVENT_TYPES``."""


class ImportRowError(OmnichannelError, ValueError):
    """A row of an order import file cannot be parsed."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


class AdapterError(OmnichannelError, TypeError):
    """A shop adapter returned a value of the wrong shape."""


class ConversationError(OmnichannelError):
    """A conversation cannot be read or changed as asked."""


class ConversationClosed(ConversationError, ValueError):
    """A message was sent to a conversation that is closed."""


class InvalidMessage(ConversationError, ValueError):
    """A message body is empty, too long or contains characters that cannot be
    stored. ``field`` names the input that carried it."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


class InvalidInboundMessage(ConversationError, ValueError):
    """An inbound email or SMS cannot be added to a conversation.

    ``field`` names the input that was wrong (``channel``, ``sender_address``,
    ``text`` or ``received_at``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CouponUnavailable(ConversationError, RuntimeError):
    """The shop cannot create a discount code for a conversation."""
