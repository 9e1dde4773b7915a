"""Google Customer Match lists through Google's Data Manager API.

Google takes new Customer Match uploads through the Data Manager API rather than the
Google Ads API. Members are added with ``POST /v1/audienceMembers:ingest`` and removed
with ``POST /v1/audienceMembers:remove``, at most 10,000 members per request. Each
request names its ``destinations`` (the Google Ads account and the user list id), the
``audienceMembers`` with their hashed ``userData.userIdentifiers`` and the
``encoding`` of the hashes (``HEX``). An ingest also carries the ``consent`` and the
Customer Match ``termsOfService``. Sources: the Data Manager API reference for
``IngestAudienceMembersRequest`` and ``RemoveAudienceMembersRequest`` and its guide
"Format user data".

Normalisation before hashing, as that guide documents it:

- ``emailAddress``: all whitespace removed, lower case; for gmail.com and
  googlemail.com, the dots and any ``+tag`` of the local part removed.
- ``phoneNumber``: E.164 with the plus sign (``+447700900123``).

Authentication is OAuth 2.0 with the ``datamanager`` scope: a service account key,
exchanged for access tokens here (RFC 7523 JWT bearer grant), or a ready access token.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.checks import CheckMessage, Error, Warning

from omnichannel.audiences.hashing import (
    Contact,
    normalise_email_for_google,
    normalise_phone_e164,
    sha256_hex,
)
from omnichannel.audiences.platforms.base import (
    AdPlatform,
    BatchResult,
    MemberRow,
    Secret,
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

SCOPE = "https://www.googleapis.com/auth/datamanager"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Profiles are uploaded only with consent for ads, which covers both signals.
CONSENT = {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}
MAX_IDENTIFIERS_PER_MEMBER = 10
_MEMBER_FIELD = re.compile(r"audience_?members\[(\d+)\]", re.IGNORECASE)
_DIGITS = re.compile(r"^\d{1,30}$")
_ACCOUNT = re.compile(r"^\d{10}$")


class RowsRejected(PlatformRequestRejected):
    """A 400 response that names the members it rejected (index -> reason)."""

    def __init__(self, message: str, rows: dict[int, str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.rows = rows


class GooglePlatform(AdPlatform):
    """Client of the Data Manager API's audience member ingestion and removal."""

    label = "Google Customer Match"
    max_batch_size = 10_000
    default_options = {
        "BASE_URL": "https://datamanager.googleapis.com",
        "ACCESS_TOKEN": None,
        "SERVICE_ACCOUNT_FILE": None,
        "SERVICE_ACCOUNT_INFO": None,
        # Overrides the token_uri of the service account key.
        "TOKEN_URL": None,
        "ACCOUNT_TYPE": "GOOGLE_ADS",
        "LOGIN_ACCOUNT_ID": None,
        "LOGIN_ACCOUNT_TYPE": None,
        "CUSTOMER_MATCH_TERMS_ACCEPTED": False,
        "BATCH_SIZE": None,
    }
    credential_options = (
        "ACCESS_TOKEN",
        "SERVICE_ACCOUNT_FILE",
        "SERVICE_ACCOUNT_INFO",
    )

    def __init__(self, key: str, options: dict[str, Any]) -> None:
        super().__init__(key, options)
        self._token: Secret | None = None
        self._token_expires_at = 0.0
        self._token_lock = threading.Lock()

    def hash_contact(self, contact: Contact) -> MemberRow:
        row: MemberRow = {}
        if contact.email:
            try:
                row["emailAddress"] = sha256_hex(
                    normalise_email_for_google(contact.email)
                )
            except InvalidIdentifier:
                pass
        if contact.phone:
            try:
                region = contact.country.strip().upper() or None
                e164 = normalise_phone_e164(contact.phone, region)
                row["phoneNumber"] = sha256_hex(e164)
            except InvalidIdentifier:
                pass
        return row

    def validate_audience(self, audience: Audience) -> dict[str, str]:
        errors = {}
        if not _DIGITS.match(audience.external_id or ""):
            errors["external_id"] = (
                "A Customer Match user list id is a number; Google Ads shows it "
                "under Audience manager > Your data segments."
            )
        if not _ACCOUNT.match(account_id(audience)):
            errors["account_id"] = (
                "Give the Google Ads customer id of the account that owns the list: "
                "ten digits, dashes allowed (123-456-7890)."
            )
        return errors

    def check(self) -> list[CheckMessage]:
        messages = super().check()
        where = f"OMNICHANNEL['AUDIENCE_PLATFORMS'][{self.key!r}]"
        if self.options.get("CUSTOMER_MATCH_TERMS_ACCEPTED") is not True:
            messages.append(
                Warning(
                    f"{where}['CUSTOMER_MATCH_TERMS_ACCEPTED'] is not True, so "
                    "uploads to Google Customer Match are rejected before sending.",
                    hint="Accept the Customer Match terms in Google Ads, then set the "
                    "option to True.",
                    id="omnichannel.W081",
                )
            )
        path = self.options.get("SERVICE_ACCOUNT_FILE")
        if path and not Path(str(path)).is_file():
            messages.append(
                Error(
                    f"{where}['SERVICE_ACCOUNT_FILE'] names a file that does not "
                    "exist.",
                    hint="Give the path of the JSON key of a service account.",
                    id="omnichannel.E085",
                )
            )
        return messages

    # Requests

    def add_members(self, audience: Audience, rows: Sequence[MemberRow]) -> BatchResult:
        if self.options.get("CUSTOMER_MATCH_TERMS_ACCEPTED") is not True:
            raise PlatformRequestRejected(
                f"{self.key}: Customer Match terms are not accepted. Accept them in "
                "Google Ads, then set OMNICHANNEL['AUDIENCE_PLATFORMS']"
                f"[{self.key!r}]['CUSTOMER_MATCH_TERMS_ACCEPTED'] = True.",
                code="terms_not_accepted",
            )
        return self._members("audienceMembers:ingest", audience, rows)

    def remove_members(
        self, audience: Audience, rows: Sequence[MemberRow]
    ) -> BatchResult:
        return self._members("audienceMembers:remove", audience, rows)

    def request_body(
        self, method: str, audience: Audience, rows: Sequence[MemberRow]
    ) -> dict[str, Any]:
        """Build the JSON body of ``audienceMembers:ingest`` or ``:remove``."""
        body: dict[str, Any] = {
            "destinations": [self.destination(audience)],
            "audienceMembers": [member(row) for row in rows],
            "encoding": "HEX",
        }
        if method == "audienceMembers:ingest":
            body["consent"] = dict(CONSENT)
            body["termsOfService"] = {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
        return body

    def destination(self, audience: Audience) -> dict[str, Any]:
        account_type = self.options["ACCOUNT_TYPE"]
        destination: dict[str, Any] = {
            "operatingAccount": {
                "accountType": account_type,
                "accountId": account_id(audience),
            },
            "productDestinationId": audience.external_id,
        }
        login = self.options.get("LOGIN_ACCOUNT_ID")
        if login:
            destination["loginAccount"] = {
                "accountType": self.options.get("LOGIN_ACCOUNT_TYPE") or account_type,
                "accountId": str(login).replace("-", ""),
            }
        return destination

    def _members(
        self, method: str, audience: Audience, rows: Sequence[MemberRow]
    ) -> BatchResult:
        """Send the rows; when Google names invalid members, send the rest again."""
        if len(rows) > self.batch_size:
            raise ValueError(
                f"{len(rows)} rows exceed the batch size {self.batch_size}."
            )
        remaining = list(range(len(rows)))
        invalid: dict[int, str] = {}
        request_ids: list[str] = []
        while remaining:
            body = self.request_body(method, audience, [rows[i] for i in remaining])
            try:
                answer = self.call_with_retries(
                    partial(self._post, method, body),
                    f"{method} with {len(remaining)} members",
                )
            except RowsRejected as error:
                for position, reason in error.rows.items():
                    invalid[remaining[position]] = reason
                remaining = [
                    index
                    for position, index in enumerate(remaining)
                    if position not in error.rows
                ]
                continue
            if answer.get("requestId"):
                request_ids.append(str(answer["requestId"]))
            break
        return BatchResult(
            received=len(rows) - len(invalid), invalid=invalid, request_ids=request_ids
        )

    def _post(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/v1/{method}"
        for renewed in (False, True):
            token = self._access_token(renew=renewed)
            response = self.send(
                "POST",
                url,
                json=body,
                headers={"Authorization": f"Bearer {token.reveal()}"},
            )
            if response.status_code == 401 and not renewed and self._renewable():
                logger.info(
                    "Audience platform %s: access token rejected (401), "
                    "requesting a new one",
                    self.key,
                )
                continue
            if response.status_code >= 400:
                raise self._error(response, len(body["audienceMembers"]))
            return _json(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(
        self, response: requests.Response, members: int
    ) -> AudiencePlatformError:
        error = _json(response).get("error")
        error = error if isinstance(error, dict) else {}
        status = str(error.get("status") or response.status_code)
        text = str(error.get("message") or response.reason or "")
        message = f"{self.key}: Google error {response.status_code} {status}: {text}"
        details = [d for d in error.get("details") or [] if isinstance(d, dict)]
        if response.status_code == 401:
            return PlatformAuthError(
                message + " Renew ACCESS_TOKEN or use a service account key.",
                code=status,
            )
        if response.status_code == 403:
            return PlatformAuthError(
                message + " Give the service account access to the Google Ads "
                "account, or set LOGIN_ACCOUNT_ID to the manager account.",
                code=status,
            )
        if response.status_code == 429 or status == "RESOURCE_EXHAUSTED":
            return PlatformRateLimited(
                message, code=status, retry_after=_retry_delay(response, details)
            )
        if response.status_code >= 500:
            return PlatformUnavailable(message, code=status)
        rows = _rejected_members(details, members)
        if rows:
            return RowsRejected(message, rows, code=status)
        return PlatformRequestRejected(message, code=status)

    # Credentials

    def _renewable(self) -> bool:
        return self.credential("ACCESS_TOKEN") is None

    def _access_token(self, renew: bool = False) -> Secret:
        static = self.credential("ACCESS_TOKEN")
        if static is not None:
            return static
        with self._token_lock:
            fresh = time.monotonic() < self._token_expires_at - 60
            if self._token is not None and fresh and not renew:
                return self._token
            info = self.service_account_info()
            self._token, lifetime = self._request_token(info)
            self._token_expires_at = time.monotonic() + lifetime
            return self._token

    def service_account_info(self) -> dict[str, Any]:
        """Return the service account key, from the options or the environment."""
        value: Any = self.options.get("SERVICE_ACCOUNT_INFO")
        if not value:
            secret = self.credential("SERVICE_ACCOUNT_INFO")
            value = secret.reveal() if secret else None
        if not value:
            path = self.credential("SERVICE_ACCOUNT_FILE")
            if path is None:
                raise PlatformAuthError(
                    f"{self.key}: no credentials. Set ACCESS_TOKEN, "
                    "SERVICE_ACCOUNT_FILE or SERVICE_ACCOUNT_INFO in "
                    "OMNICHANNEL['AUDIENCE_PLATFORMS']"
                    f"[{self.key!r}], or the environment variable "
                    f"{self.env_variable('SERVICE_ACCOUNT_FILE')}.",
                    code="no_credentials",
                )
            try:
                value = Path(path.reveal()).read_text()
            except OSError as error:
                raise PlatformAuthError(
                    f"{self.key}: the service account key file cannot be read "
                    f"({error.strerror}).",
                    code="no_credentials",
                ) from None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        missing = [
            name
            for name in ("client_email", "private_key")
            if not isinstance(value, dict) or not value.get(name)
        ]
        if missing:
            raise PlatformAuthError(
                f"{self.key}: the service account key is not a JSON object with "
                f"{' and '.join(missing)}. Download a JSON key of the service account.",
                code="bad_credentials",
            )
        return value

    def _request_token(self, info: dict[str, Any]) -> tuple[Secret, float]:
        """Exchange a signed JWT for an access token (RFC 7523)."""
        import jwt

        token_url = self.options.get("TOKEN_URL") or info.get("token_uri")
        token_url = token_url or DEFAULT_TOKEN_URL
        now = int(time.time())
        claims = {
            "iss": info["client_email"],
            "scope": SCOPE,
            "aud": token_url,
            "iat": now,
            "exp": now + 3600,
        }
        headers = (
            {"kid": info["private_key_id"]} if info.get("private_key_id") else None
        )
        try:
            assertion = jwt.encode(
                claims, info["private_key"], algorithm="RS256", headers=headers
            )
        except (ValueError, TypeError, jwt.PyJWTError):
            raise PlatformAuthError(
                f"{self.key}: the service account's private_key is not a PEM RSA key.",
                code="bad_credentials",
            ) from None
        response = self.send(
            "POST", token_url, data={"grant_type": JWT_BEARER, "assertion": assertion}
        )
        body = _json(response)
        if response.status_code >= 500:
            raise PlatformUnavailable(
                f"{self.key}: token endpoint failed with {response.status_code}.",
                code=str(response.status_code),
            )
        if response.status_code >= 400 or not body.get("access_token"):
            reason = (
                body.get("error_description") or body.get("error") or response.reason
            )
            raise PlatformAuthError(
                f"{self.key}: the token endpoint rejected the service account: "
                f"{reason}.",
                code=str(body.get("error") or response.status_code),
            )
        lifetime = float(body.get("expires_in") or 3600)
        return Secret(str(body["access_token"])), lifetime


def account_id(audience: Audience) -> str:
    """Return the audience's Google Ads customer id without dashes."""
    return (audience.account_id or "").replace("-", "").strip()


def member(row: MemberRow) -> dict[str, Any]:
    """Build one ``AudienceMember`` object from a row of hashed identifiers."""
    identifiers = [
        {key: row[key]} for key in ("emailAddress", "phoneNumber") if row.get(key)
    ]
    return {"userData": {"userIdentifiers": identifiers[:MAX_IDENTIFIERS_PER_MEMBER]}}


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_delay(response: requests.Response, details: list[dict]) -> float | None:
    """Read the wait from a ``google.rpc.RetryInfo`` detail or ``Retry-After``."""
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay") or "")
            if delay.endswith("s"):
                try:
                    return float(delay[:-1])
                except ValueError:
                    pass
    return parse_retry_after(response.headers.get("Retry-After"))


def _rejected_members(details: list[dict], members: int) -> dict[int, str]:
    """Map ``google.rpc.BadRequest`` field violations to member indices.

    NOTE: the field path is taken from Google's error model, not from a recorded
    response, so both ``audience_members[i]`` and ``audienceMembers[i]`` match.
    """
    rows: dict[int, str] = {}
    for detail in details:
        if not str(detail.get("@type", "")).endswith("google.rpc.BadRequest"):
            continue
        for violation in detail.get("fieldViolations") or []:
            match = _MEMBER_FIELD.search(str(violation.get("field", "")))
            if match and int(match.group(1)) < members:
                reason = str(violation.get("description") or "invalid member")
                rows[int(match.group(1))] = reason
    return rows
