"""The contract every ad platform client fulfils, and the HTTP plumbing they share.

A platform is named in ``OMNICHANNEL["AUDIENCE_PLATFORMS"]`` by a key of the shop's
choosing, with the dotted path of an :class:`AdPlatform` subclass in ``BACKEND`` and
the client's options beside it. Credentials are read from those options or, when an
option is missing, from the environment variable ``OMNICHANNEL_<KEY>_<OPTION>``
(``OMNICHANNEL_META_ACCESS_TOKEN``), or from the variable named in ``<OPTION>_ENV``.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import requests
from django.core.checks import CheckMessage, Error, Warning
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from omnichannel.conf import app_settings
from omnichannel.exceptions import (
    AudiencePlatformError,
    PlatformUnavailable,
)

if TYPE_CHECKING:
    from omnichannel.audiences.hashing import Contact
    from omnichannel.audiences.models import Audience

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Hashed identifiers of one member, keyed by the platform's own field names.
MemberRow = dict[str, str]

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Secret:
    """A credential that shows as ``'***'`` in reprs, logs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass
class BatchResult:
    """The platform's report on one add or remove request.

    ``invalid`` maps the index of a row in the request to the platform's reason for
    rejecting it. Every other row was accepted.
    """

    received: int
    invalid: dict[int, str] = field(default_factory=dict)
    request_ids: list[str] = field(default_factory=list)


class AdPlatform:
    """Base class of a platform client: hashing, batching, requests and retries.

    Subclasses set ``label``, ``max_batch_size`` and ``default_options`` and
    implement :meth:`hash_contact`, :meth:`add_members` and :meth:`remove_members`.
    """

    label: ClassVar[str] = ""
    max_batch_size: ClassVar[int] = 10_000
    #: Options a subclass understands, with their defaults; ``None`` means unset.
    default_options: ClassVar[dict[str, Any]] = {}
    #: Options that hold secrets and may come from the environment.
    credential_options: ClassVar[tuple[str, ...]] = ()
    #: Called to wait between retries; tests replace it.
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, key: str, options: dict[str, Any]) -> None:
        self.key = key
        self.raw_options = dict(options)
        self.options = {**self.default_options, **options}
        self.options.pop("BACKEND", None)
        self.session = requests.Session()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"

    # Options and credentials

    @property
    def batch_size(self) -> int:
        return int(self.options.get("BATCH_SIZE") or self.max_batch_size)

    @property
    def base_url(self) -> str:
        return str(self.options["BASE_URL"]).rstrip("/")

    def credential(self, name: str) -> Secret | None:
        """Return the credential ``name`` from the options or the environment."""
        value = self.options.get(name)
        if value in (None, ""):
            variable = self.options.get(f"{name}_ENV") or self.env_variable(name)
            value = os.environ.get(variable) or None
        return Secret(str(value)) if value is not None else None

    def has_credentials(self) -> bool:
        """Tell whether enough credentials are set to send requests."""
        return any(self.credential(name) for name in self.credential_options)

    def env_variable(self, name: str) -> str:
        return f"OMNICHANNEL_{self.key.upper()}_{name}"

    # What a subclass implements

    def hash_contact(self, contact: Contact) -> MemberRow:
        """Return the normalised, hashed identifiers of one contact.

        Identifiers that cannot be normalised are left out; an empty result means the
        platform cannot match this contact.
        """
        raise NotImplementedError

    def add_members(self, audience: Audience, rows: Sequence[MemberRow]) -> BatchResult:
        """Add up to ``batch_size`` hashed members to the platform's list."""
        raise NotImplementedError

    def remove_members(
        self, audience: Audience, rows: Sequence[MemberRow]
    ) -> BatchResult:
        """Remove up to ``batch_size`` hashed members from the platform's list."""
        raise NotImplementedError

    def validate_audience(self, audience: Audience) -> dict[str, str]:
        """Return field name -> message for each audience field the platform rejects."""
        return {}

    # Checks

    def check(self) -> list[CheckMessage]:
        """Return the configuration problems of this platform, for system checks."""
        messages: list[CheckMessage] = []
        where = f"OMNICHANNEL['AUDIENCE_PLATFORMS'][{self.key!r}]"
        known = {"BACKEND", *self.default_options}
        known |= {f"{name}_ENV" for name in self.credential_options}
        for name in self.raw_options:
            if name not in known:
                messages.append(
                    Warning(
                        f"{where} has the option {name!r}, which "
                        f"{type(self).__name__} does not use.",
                        hint=f"Known options: {', '.join(sorted(known))}.",
                        id="omnichannel.W083",
                    )
                )
        size = self.options.get("BATCH_SIZE")
        if size is not None and (
            not isinstance(size, int) or not 1 <= size <= self.max_batch_size
        ):
            messages.append(
                Error(
                    f"{where}['BATCH_SIZE'] = {size!r} is outside 1 to "
                    f"{self.max_batch_size}, the platform's limit per request.",
                    hint="Use a whole number in that range, or leave it out.",
                    id="omnichannel.E082",
                )
            )
        messages += self._check_base_url(where)
        return messages

    def _check_base_url(self, where: str) -> list[CheckMessage]:
        url = self.options.get("BASE_URL")
        parts = urlsplit(str(url or ""))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return [
                Error(
                    f"{where}['BASE_URL'] = {url!r} is not an http(s) URL.",
                    hint="Leave it out to use the platform's public address.",
                    id="omnichannel.E083",
                )
            ]
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
            return [
                Warning(
                    f"{where}['BASE_URL'] = {url!r} sends hashed identifiers and "
                    "credentials without TLS.",
                    hint="Use https, or http only to a server on 127.0.0.1.",
                    id="omnichannel.W082",
                )
            ]
        return []

    # HTTP

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one HTTP request; raise PlatformUnavailable if no response arrives."""
        timeout = app_settings.AUDIENCE_HTTP_TIMEOUT.total_seconds()
        try:
            return self.session.request(method, url, timeout=timeout, **kwargs)
        except requests.RequestException as error:
            if _never_sent(error):
                raise PlatformUnavailable(
                    f"{self.key}: could not connect to {urlsplit(url).netloc} "
                    f"({type(error).__name__}).",
                    code="connect",
                ) from None
            # The request may have reached the platform before the connection broke.
            raise PlatformUnavailable(
                f"{self.key}: no response from {urlsplit(url).netloc} "
                f"({type(error).__name__}).",
                code="no_answer",
                in_doubt=True,
            ) from None

    def call_with_retries(self, call: Callable[[], T], description: str) -> T:
        """Run ``call``, retrying retryable platform errors with exponential back-off.

        The wait doubles from ``AUDIENCE_RETRY_BASE_DELAY`` up to
        ``AUDIENCE_RETRY_MAX_DELAY``, with random jitter over its upper half. A wait the
        platform requests is honoured, but one longer than the maximum ends the
        retries, so that the caller can reschedule the work instead of blocking a
        worker.
        """
        attempts = max(1, int(app_settings.AUDIENCE_RETRY_MAX_ATTEMPTS))
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except AudiencePlatformError as error:
                if not error.retryable or attempt == attempts:
                    raise
                delay = self.retry_delay(attempt, error.retry_after)
                if delay is None:
                    raise
                logger.warning(
                    "Audience platform %s: %s failed on attempt %d of %d (%s); "
                    "retrying in %.1f s",
                    self.key,
                    description,
                    attempt,
                    attempts,
                    error.code,
                    delay,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def retry_delay(attempt: int, retry_after: float | None) -> float | None:
        """Return the wait before retry number ``attempt``, or None to stop retrying."""
        maximum = app_settings.AUDIENCE_RETRY_MAX_DELAY.total_seconds()
        if retry_after is not None:
            return retry_after if retry_after <= maximum else None
        base = app_settings.AUDIENCE_RETRY_BASE_DELAY.total_seconds()
        ceiling = min(maximum, base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _never_sent(error: requests.RequestException) -> bool:
    """Tell whether the connection failed before any byte of the request left."""
    if isinstance(error, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(
        reason, (NewConnectionError, ConnectTimeoutError)
    )


def parse_retry_after(value: str | None) -> float | None:
    """Return the seconds of an HTTP ``Retry-After`` header given in seconds."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def chunked(rows: Sequence[T], size: int) -> list[Sequence[T]]:
    """Split ``rows`` into consecutive slices of at most ``size`` items."""
    return [rows[start : start + size] for start in range(0, len(rows), size)]
