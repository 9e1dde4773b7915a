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


class InvalidRule(OmnichannelError, ValueError):
    """A segment rule or branch condition does not follow the condition language.

    ``path`` locates the offending part inside the rule, such as ``all[1].value``;
    an empty path means the rule as a whole.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'rule'}: {message}")
        self.path = path
        self.message = message


class SegmentInUse(OmnichannelError, ValueError):
    """A segment cannot be deleted because other segments' rules refer to it."""

    def __init__(self, slug: str, users: list[str]) -> None:
        super().__init__(
            f"Segment {slug!r} is used by the rules of {', '.join(sorted(users))}; "
            "remove those conditions first."
        )
        self.slug = slug
        self.users = users
