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


class MergeError(OmnichannelError, ValueError):
    """Two profiles cannot be merged, or a merge cannot be undone."""


class ProfileErased(OmnichannelError, ValueError):
    """The profile was erased on request and may not collect new data."""


class InvalidToken(OmnichannelError, ValueError):
    """A signed link token was altered, was made for another purpose, or expired.

    ``expired`` is true when the signature is good but the token is too old.
    """

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class LedgerError(OmnichannelError, PermissionError):
    """Code tried to change or delete a row of an append-only ledger."""


class ExperimentError(OmnichannelError, ValueError):
    """An experiment or one of its variants is set up in a way that cannot run.

    ``field`` names the offending field (``weight``, ``holdout_share``, ...) when one
    field is to blame, so that forms can attach the message to it.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InsufficientData(OmnichannelError, ValueError):
    """A statistic cannot be computed from the counts given (an empty group, say)."""
