"""Meta (Facebook, Instagram) Custom Audiences through the Marketing API.

Members are added with ``POST /{version}/{audience_id}/users`` and removed with
``DELETE`` on the same path. Both take a form field ``payload``, a JSON object
``{"schema": [...], "data": [[...], ...]}`` of at most 10,000 rows, where each row
contains the SHA-256 hex digests of one person's identifiers in schema order. Sources:
Meta's Marketing API reference for ``/{custom_audience_id}/users`` and its guide
"Customer File Custom Audiences" (Graph API v25.0).

Normalisation before hashing, as that guide documents it:

- ``EMAIL``: whitespace trimmed, lower case.
- ``PHONE``: digits only, with the country code and without a plus sign or leading
  zeros (``447700900123``).
- ``FN``, ``LN``: lower case, letters only, no punctuation; non-ASCII letters kept
  in UTF-8.
- ``COUNTRY``: ISO 3166-1 alpha-2 code in lower case.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from omnichannel.audiences.hashing import (
    Contact,
    normalise_country,
    normalise_email,
    normalise_name,
    normalise_phone_e164,
    phone_digits,
    sha256_hex,
)
from omnichannel.audiences.platforms.base import (
    AdPlatform,
    BatchResult,
    MemberRow,
    parse_retry_after,
)
from omnichannel.exceptions import (
    AudiencePlatformError,
    InvalidIdentifier,
    PlatformAuthError,
    PlatformRateLimited,
    PlatformRequestRejected,
    PlatformUnavailable,
)

if TYPE_CHECKING:
    import requests

    from omnichannel.audiences.models import Audience

logger = logging.getLogger(__name__)

SCHEMA = ("EMAIL", "PHONE", "FN", "LN", "COUNTRY")
MATCH_KEYS = ("EMAIL", "PHONE")

# Graph API error codes (Marketing API error reference): 190 is an invalid or
# expired access token, 102 a session error, 10 and 200-299 missing permissions.
AUTH_CODES = {102, 190, 10}
# 4 application, 17 user, 32 page and 613 custom rate limits; 80000-80014 are the
# business use case limits, 80003 the one for Custom Audiences.
RATE_LIMIT_CODES = {4, 17, 32, 613, *range(80000, 80015)}
# 1 is an unknown error and 2 a temporary service failure; both may be retried.
TRANSIENT_CODES = {1, 2}
_AUDIENCE_ID = re.compile(r"^\d{1,30}$")


class MetaPlatform(AdPlatform):
    """Client of Meta's Custom Audience ``users`` edge."""

    label = "Meta Custom Audience"
    max_batch_size = 10_000
    default_options = {
        "BASE_URL": "https://graph.facebook.com",
        # NOTE: the newest version when this client was written; Meta retires each
        # version about two years after release, so raise it when Meta announces it.
        "API_VERSION": "v25.0",
        "ACCESS_TOKEN": None,
        "APP_SECRET": None,
        "BATCH_SIZE": None,
    }
    credential_options = ("ACCESS_TOKEN", "APP_SECRET")

    def has_credentials(self) -> bool:
        return self.credential("ACCESS_TOKEN") is not None

    def hash_contact(self, contact: Contact) -> MemberRow:
        row: MemberRow = {}
        if contact.email:
            try:
                row["EMAIL"] = sha256_hex(normalise_email(contact.email))
            except InvalidIdentifier:
                pass
        if contact.phone:
            try:
                region = contact.country.strip().upper() or None
                e164 = normalise_phone_e164(contact.phone, region)
                row["PHONE"] = sha256_hex(phone_digits(e164))
            except InvalidIdentifier:
                pass
        if not row:
            return row
        for key, value in (("FN", contact.first_name), ("LN", contact.last_name)):
            name = normalise_name(value)
            if name:
                row[key] = sha256_hex(name)
        if contact.country:
            try:
                row["COUNTRY"] = sha256_hex(normalise_country(contact.country))
            except InvalidIdentifier:
                pass
        return row

    def validate_audience(self, audience: Audience) -> dict[str, str]:
        if not _AUDIENCE_ID.match(audience.external_id or ""):
            return {
                "external_id": "A Meta Custom Audience id is a number, such as "
                "23851234567890123 (Audiences in Ads Manager shows it)."
            }
        return {}

    def add_members(self, audience: Audience, rows: Sequence[MemberRow]) -> BatchResult:
        return self._users("POST", audience, rows)

    def remove_members(
        self, audience: Audience, rows: Sequence[MemberRow]
    ) -> BatchResult:
        return self._users("DELETE", audience, rows)

    # Requests

    def payload(self, rows: Sequence[MemberRow]) -> dict[str, Any]:
        """Build the ``payload`` object: the schema columns present, one row each."""
        # NOTE: a value missing from a row is sent as "", as in Meta's multi-key
        # examples. The reference does not state how Meta reads an empty column.
        schema = [key for key in SCHEMA if any(key in row for row in rows)]
        data = [[row.get(key, "") for key in schema] for row in rows]
        return {"schema": schema, "data": data}

    def _users(
        self, method: str, audience: Audience, rows: Sequence[MemberRow]
    ) -> BatchResult:
        if len(rows) > self.batch_size:
            raise ValueError(
                f"{len(rows)} rows exceed the batch size {self.batch_size}."
            )
        token = self.credential("ACCESS_TOKEN")
        if token is None:
            raise PlatformAuthError(
                f"{self.key}: no access token. Set OMNICHANNEL['AUDIENCE_PLATFORMS']"
                f"[{self.key!r}]['ACCESS_TOKEN'] or the environment variable "
                f"{self.env_variable('ACCESS_TOKEN')}.",
                code="no_token",
            )
        version = self.options["API_VERSION"]
        url = f"{self.base_url}/{version}/{audience.external_id}/users"
        form = {
            "payload": json.dumps(self.payload(rows), separators=(",", ":")),
            # In the body, not the URL, so that access logs never contain it.
            "access_token": token.reveal(),
        }
        secret = self.credential("APP_SECRET")
        if secret is not None:
            form["appsecret_proof"] = hmac.new(
                secret.reveal().encode(), token.reveal().encode(), hashlib.sha256
            ).hexdigest()
        verb = "add" if method == "POST" else "remove"

        def call() -> requests.Response:
            response = self.send(method, url, data=form)
            if response.status_code >= 400 or _error_of(response):
                raise self._error(response, token.reveal())
            return response

        response = self.call_with_retries(call, f"{verb} {len(rows)} rows")
        return self._result(response, rows)

    def _result(
        self, response: requests.Response, rows: Sequence[MemberRow]
    ) -> BatchResult:
        body = _json(response)
        received = int(body.get("num_received", len(rows)) or 0)
        if received != len(rows):
            logger.warning(
                "Audience platform %s received %d of %d rows",
                self.key,
                received,
                len(rows),
            )
        invalid = _invalid_rows(body.get("invalid_entry_samples"), rows)
        reported = int(body.get("num_invalid_entries", 0) or 0)
        if reported > len(invalid):
            # NOTE: Meta documents only "samples" of invalid entries, so rows it
            # rejected without naming them are counted as accepted.
            logger.warning(
                "Audience platform %s rejected %d rows and named %d of them",
                self.key,
                reported,
                len(invalid),
            )
        session = body.get("session_id")
        return BatchResult(
            received=received,
            invalid=invalid,
            request_ids=[str(session)] if session else [],
        )

    def _error(self, response: requests.Response, token: str) -> AudiencePlatformError:
        error = _error_of(response) or {}
        code = _int(error.get("code"))
        subcode = _int(error.get("error_subcode"))
        text = str(error.get("message") or response.reason or "").replace(token, "***")
        label = f"{code}/{subcode}" if subcode else str(code or response.status_code)
        message = f"{self.key}: Meta error {label}: {text}"
        if code in AUTH_CODES or 200 <= (code or 0) < 300:
            return PlatformAuthError(
                message + " Renew the access token (a system user token does not "
                "expire) and check that it may manage this audience.",
                code=label,
            )
        if code in RATE_LIMIT_CODES or response.status_code == 429:
            return PlatformRateLimited(
                message, code=label, retry_after=_regain_access_after(response)
            )
        if (
            code in TRANSIENT_CODES
            or error.get("is_transient")
            or response.status_code >= 500
        ):
            return PlatformUnavailable(message, code=label)
        return PlatformRequestRejected(message, code=label)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_of(response: requests.Response) -> dict[str, Any] | None:
    error = _json(response).get("error")
    return error if isinstance(error, dict) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _regain_access_after(response: requests.Response) -> float | None:
    """Read the wait Meta names in ``X-Business-Use-Case-Usage``, in seconds.

    The header maps a business id to a list of usage objects, each with
    ``estimated_time_to_regain_access`` in minutes.
    """
    header = response.headers.get("X-Business-Use-Case-Usage")
    minutes = []
    if header:
        try:
            usage = json.loads(header)
        except ValueError:
            usage = {}
        for entries in usage.values() if isinstance(usage, dict) else []:
            for entry in entries if isinstance(entries, list) else []:
                value = _int(entry.get("estimated_time_to_regain_access"))
                if value:
                    minutes.append(value)
    if minutes:
        return max(minutes) * 60.0
    return parse_retry_after(response.headers.get("Retry-After"))


def _invalid_rows(samples: Any, rows: Sequence[MemberRow]) -> dict[int, str]:
    """Match Meta's ``invalid_entry_samples`` to the rows they came from.

    NOTE: Meta's reference does not fix the shape of this field. It is read both as
    a mapping (hash -> reason, or reason -> hash) and as a list of hashes or rows.
    """
    where: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        for value in row.values():
            where.setdefault(value, []).append(index)
    invalid: dict[int, str] = {}

    def mark(value: Any, reason: str) -> bool:
        values = value if isinstance(value, list) else [value]
        found = False
        for item in values:
            for index in where.get(str(item), []):
                invalid[index] = reason
                found = True
        return found

    if isinstance(samples, dict):
        for key, value in samples.items():
            if not mark(key, str(value) or "invalid entry"):
                mark(value, str(key))
    elif isinstance(samples, list):
        for item in samples:
            mark(item, "invalid entry")
    return invalid
