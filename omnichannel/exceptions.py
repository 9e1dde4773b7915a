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


class ChannelError(OmnichannelError):
    """Base class of errors raised by channel backends and the outbox."""


class InvalidAddress(ChannelError, ValueError):
    """The recipient's address on a channel is missing or cannot be used.

    ``reason`` is ``no_address`` when the profile has none and ``invalid_address``
    when the provider or the validator rejects it. The delivery is failed and never
    retried.
    """

    def __init__(self, message: str, *, reason: str = "invalid_address") -> None:
        super().__init__(message)
        self.reason = reason


class ProviderError(ChannelError, RuntimeError):
    """A provider did not accept a message.

    ``retryable`` tells whether the same request may succeed later (rate limit,
    server error, time-out); ``retry_after`` is the provider's requested wait in
    seconds, if it gave one; ``code`` is the provider's own error code.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        code: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.status = status


class DeliveryError(ChannelError, ValueError):
    """A delivery cannot be created from the given arguments."""


class RenderError(ChannelError, ValueError):
    """A message template failed while rendering for one recipient."""


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


class AudiencePlatformError(OmnichannelError, RuntimeError):
    """An ad platform rejected a request or could not be reached.

    ``retryable`` is true when the same request may succeed later (rate limit, server
    error, timeout). ``retry_after`` is the wait in seconds the platform requested, if
    it named one. ``in_doubt`` is true when no response came back, so the platform may
    have applied the request. ``code`` is the platform's own error code or status.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        retry_after: float | None = None,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after
        self.in_doubt = in_doubt


class PlatformAuthError(AudiencePlatformError):
    """The platform rejected the credentials: expired, revoked or lacking permission."""


class PlatformRateLimited(AudiencePlatformError):
    """The platform asked the caller to slow down."""

    retryable = True


class PlatformUnavailable(AudiencePlatformError):
    """The platform failed on its side or did not respond in time."""

    retryable = True


class PlatformRequestRejected(AudiencePlatformError, ValueError):
    """The platform rejected the whole request as invalid (not single rows)."""


class PlatformNotConfigured(OmnichannelError, LookupError):
    """An audience names a platform key that ``AUDIENCE_PLATFORMS`` does not define."""
