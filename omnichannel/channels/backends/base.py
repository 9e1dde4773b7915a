"""The protocol every channel backend follows.

A backend finds a profile's addresses on its channel, and sends one finished message
to them. It raises InvalidAddress for an address the provider rejects for good and
ProviderError for any other failure, with ``retryable`` telling the outbox whether
to try again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from omnichannel.exceptions import InvalidAddress, ProviderError
from omnichannel.security.outbound import UnsafeURL, guarded_request, guarded_session

if TYPE_CHECKING:
    from omnichannel.channels.compose import RenderedMessage
    from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


@dataclass
class OutgoingMessage:
    """A rendered message addressed to one recipient's addresses on a channel."""

    channel: str
    to: list[str]
    rendered: RenderedMessage
    delivery_id: int | None = None
    profile_id: int | None = None
    template_slug: str = ""
    purpose: str = "marketing"
    track: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    test: bool = False


@dataclass
class SendResult:
    """What the provider returned: its message id and addresses it rejected."""

    provider_message_id: str = ""
    rejected: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class BaseBackend:
    """Base class of channel backends; subclasses set ``channel`` and ``send``.

    ``consent_channel`` is the channel of the consent ledger that must grant
    consent before a marketing message goes out, or None for channels with no
    consent of their own (webhooks to the shop's own systems, on-site messages).

    ``idempotent`` is True when the provider drops a second send that carries the
    same ``OutgoingMessage.delivery_id`` (an idempotency key). Only then does the
    outbox send again a message whose worker died mid-send.
    """

    channel: ClassVar[str] = ""
    consent_channel: ClassVar[str | None] = None
    idempotent: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        self.options = options

    def get_addresses(self, profile: Profile) -> list[str]:
        """Return the profile's addresses on this channel; raise InvalidAddress."""
        raise NotImplementedError

    def send(self, message: OutgoingMessage) -> SendResult:
        """Send ``message``; raise InvalidAddress or ProviderError."""
        raise NotImplementedError

    def send_many(
        self, messages: list[OutgoingMessage]
    ) -> list[SendResult | InvalidAddress | ProviderError]:
        """Send ``messages``; return one SendResult or raised error per message.

        Override it when the provider takes a batch in one request. This default
        calls ``send`` for each, so one failure never stops the others.
        """
        results: list[SendResult | InvalidAddress | ProviderError] = []
        for message in messages:
            try:
                results.append(self.send(message))
            except (InvalidAddress, ProviderError) as error:
                results.append(error)
            except Exception as error:
                logger.exception("backend of delivery %s raised", message.delivery_id)
                results.append(ProviderError(f"{type(error).__name__}: {error}"))
        return results

    def forget_address(self, address: str) -> None:
        """Drop an address the provider reported as gone (an expired push token)."""

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


class HTTPBackend(BaseBackend):
    """A backend that calls a provider's HTTP API with requests."""

    #: Base URL of the provider's API; the ``API_URL`` option overrides it.
    default_api_url: ClassVar[str] = ""
    #: Check each URL and redirect with ``omnichannel.security.outbound``, for
    #: backends whose URL points at a site chosen by the shop, not a provider.
    guard_urls: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.session = guarded_session() if self.guard_urls else requests.Session()

    @property
    def api_url(self) -> str:
        return str(self.option("API_URL", self.default_api_url)).rstrip("/")

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one HTTP request; raise a retryable ProviderError on network errors."""
        kwargs.setdefault("timeout", self.option("TIMEOUT", DEFAULT_TIMEOUT))
        try:
            if self.guard_urls:
                return guarded_request(self.session, method, url, **kwargs)
            return self.session.request(method, url, **kwargs)
        except UnsafeURL as error:
            raise ProviderError(
                str(error), retryable=False, code="unsafe_url"
            ) from error
        except requests.Timeout as error:
            raise ProviderError(
                f"{self.channel} provider timed out: {error}", code="timeout"
            ) from error
        except requests.RequestException as error:
            raise ProviderError(
                f"{self.channel} provider could not be reached: {error}",
                code="network",
            ) from error


def retry_after_seconds(response: requests.Response) -> float | None:
    """Return the Retry-After header in seconds, if it is a number."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def http_status_error(
    response: requests.Response, message: str, code: str = ""
) -> ProviderError:
    """Return the ProviderError for an unsuccessful provider response.

    Rate limits (429), time-outs (408) and server errors (5xx) may succeed later;
    other client errors will not.
    """
    status = response.status_code
    retryable = status in (408, 429) or status >= 500
    return ProviderError(
        f"provider answered HTTP {status}: {message}",
        retryable=retryable,
        retry_after=retry_after_seconds(response),
        code=code or str(status),
        status=status,
    )


def e164_address(profile: Profile) -> str:
    """Return the profile's phone in E.164 form; raise InvalidAddress."""
    import phonenumbers

    phone = (profile.phone or "").strip()
    if not phone:
        raise InvalidAddress("The profile has no phone number.", reason="no_address")
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as error:
        raise InvalidAddress(f"The phone number cannot be parsed: {error}") from None
    # Possible rather than valid: numbers of ranges set aside for drama and tests
    # (such as +44 7700 900xxx) are possible but not valid.
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidAddress("The phone number has an impossible length.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


__all__ = [
    "BaseBackend",
    "HTTPBackend",
    "InvalidAddress",
    "OutgoingMessage",
    "ProviderError",
    "SendResult",
]
