"""Exceptions raised by the app.

Each one subclasses :class:`OmnichannelError` and the built-in exception it resembles,
so callers can catch either.
"""

from rest_framework.exceptions import APIException


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


class InvalidDiscountCode(OmnichannelError, ValueError):
    """A discount code cannot be created from the given arguments.

    ``field`` names the argument (``code``, ``kind``, ``value``, ``valid_until``) so
    that callers can show the message beside it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DiscountCodeTaken(InvalidDiscountCode):
    """The shop already has a discount code with this text; choose another one."""


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


class OfferError(OmnichannelError, ValueError):
    """An offer cannot be issued or is set up in a way that cannot work.

    ``reason`` is a stable machine-readable string (``unknown_offer``,
    ``inactive``, ``not_started``, ``ended``, ``not_in_audience``,
    ``limit_reached``, ``erased``) and ``field`` names the offer field to blame
    when one is.
    """

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


class OfferCodeRejected(OmnichannelError, ValueError, APIException):
    """A customer's offer code cannot be used; nothing was changed.

    ``reason`` is one of ``unknown``, ``not_yours``, ``sign_in_required``,
    ``claimed``, ``expired``, ``not_started``, ``withdrawn`` or ``sold_out``;
    ``message`` is a translated sentence for the customer.

    It is also a DRF ``APIException`` with the HTTP status of its reason, so a REST
    endpoint whose transaction it fails (an order reported through the events API
    with a used code, say) returns 409 with the reason as ``code`` instead of
    failing with a server error.
    """

    STATUS_BY_REASON = {
        "unknown": 404,
        "not_yours": 403,
        "sign_in_required": 403,
        "claimed": 409,
        "not_started": 409,
        "sold_out": 409,
        "expired": 410,
        "withdrawn": 410,
    }

    def __init__(self, reason: str, message: str) -> None:
        APIException.__init__(self, detail=message, code=reason)
        self.args = (message,)
        self.reason = reason
        self.message = message
        self.status_code = self.STATUS_BY_REASON.get(reason, 400)


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


class EnrollmentRefused(OmnichannelError, ValueError):
    """A customer cannot be enrolled in a journey now.

    ``reason`` is a stable code: ``journey_not_active``, ``journey_paused``,
    ``trigger_not_manual``, ``already_enrolled``, ``reentry_refused`` or
    ``profile_erased``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class JourneyNotFound(OmnichannelError, LookupError):
    """No journey has the given slug."""


class ProfileNotFound(OmnichannelError, LookupError):
    """No profile matches the given uuid or identifier."""
