"""Mobile push through Firebase Cloud Messaging's HTTP v1 API.

Device tokens are the profile's identities of kind ``device``. The backend signs a
service account's JWT with RS256 and trades it for an OAuth access token at the
account's ``token_uri``, then sends one request per device.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import jwt

from omnichannel.channels.backends.base import (
    BaseBackend,
    HTTPBackend,
    OutgoingMessage,
    SendResult,
    http_status_error,
)
from omnichannel.consent.models import Channel
from omnichannel.exceptions import InvalidAddress, ProviderError
from omnichannel.profiles.models import Identity, Profile

logger = logging.getLogger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
TOKEN_LIFETIME_SECONDS = 3600
# FCM error codes that mean the token will never work again.
GONE_TOKEN_CODES = {"UNREGISTERED"}


class PushBackend(BaseBackend):
    """Base of mobile push backends: addresses are the profile's device tokens."""

    channel = "push"
    consent_channel = Channel.PUSH

    def get_addresses(self, profile: Profile) -> list[str]:
        tokens = list(
            Identity.objects.filter(
                profile=profile, kind=Identity.Kind.DEVICE
            ).values_list("value", flat=True)
        )
        if not tokens:
            raise InvalidAddress("The profile has no push device.", reason="no_address")
        return tokens

    def forget_address(self, address: str) -> None:
        Identity.objects.filter(kind=Identity.Kind.DEVICE, value=address).delete()


class FCMBackend(PushBackend, HTTPBackend):
    """Send with FCM HTTP v1 (``projects/{id}/messages:send``).

    Options: ``PROJECT_ID``; credentials as ``SERVICE_ACCOUNT_INFO`` (the parsed
    JSON key file), ``SERVICE_ACCOUNT_FILE`` (its path) or ``ACCESS_TOKEN`` (a
    token obtained elsewhere); ``API_URL`` (default
    ``https://fcm.googleapis.com``), ``TIMEOUT``.
    """

    default_api_url = "https://fcm.googleapis.com"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._token = ""
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    def _service_account(self) -> dict[str, Any]:
        info = self.option("SERVICE_ACCOUNT_INFO")
        if info is None and self.option("SERVICE_ACCOUNT_FILE"):
            with open(self.option("SERVICE_ACCOUNT_FILE"), encoding="utf-8") as file:
                info = json.load(file)
        if not isinstance(info, dict):
            raise ProviderError(
                "FCMBackend needs SERVICE_ACCOUNT_INFO, SERVICE_ACCOUNT_FILE or "
                "ACCESS_TOKEN.",
                retryable=False,
                code="configuration",
            )
        return info

    def access_token(self, *, refresh: bool = False) -> str:
        """Return a valid OAuth 2 access token, fetching a new one when needed."""
        if self.option("ACCESS_TOKEN"):
            return str(self.option("ACCESS_TOKEN"))
        with self._token_lock:
            if not refresh and self._token and time.time() < self._token_expires - 60:
                return self._token
            info = self._service_account()
            now = int(time.time())
            assertion = jwt.encode(
                {
                    "iss": info["client_email"],
                    "scope": FCM_SCOPE,
                    "aud": info["token_uri"],
                    "iat": now,
                    "exp": now + TOKEN_LIFETIME_SECONDS,
                },
                info["private_key"],
                algorithm="RS256",
                headers={"kid": info.get("private_key_id", "")},
            )
            response = self.request(
                "POST",
                info["token_uri"],
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
            if response.status_code != 200:
                raise http_status_error(response, "access token request failed")
            payload = response.json()
            self._token = payload["access_token"]
            self._token_expires = now + int(payload.get("expires_in", 3600))
            return self._token

    def build_payload(self, message: OutgoingMessage, token: str) -> dict[str, Any]:
        rendered = message.rendered
        data = {"delivery_id": str(message.delivery_id or "")}
        if rendered.url:
            data["url"] = rendered.url
        return {
            "message": {
                "token": token,
                "notification": {"title": rendered.subject, "body": rendered.text},
                "data": data,
            }
        }

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.option("PROJECT_ID"):
            raise ProviderError(
                "FCMBackend needs the PROJECT_ID option.", retryable=False
            )
        result = SendResult()
        sent: list[str] = []
        last_error: ProviderError | None = None
        for token in message.to:
            try:
                sent.append(self._send_one(message, token))
            except InvalidAddress:
                self.forget_address(token)
                result.rejected.append(token)
            except ProviderError as error:
                last_error = error
        if not sent:
            if last_error is not None:
                raise last_error
            raise InvalidAddress("FCM rejected every device token of the profile.")
        if last_error is not None:
            logger.warning(
                "push delivery %s reached %d of %d devices: %s",
                message.delivery_id,
                len(sent),
                len(message.to),
                last_error.code,
            )
        result.provider_message_id = sent[0]
        result.details = {"message_ids": sent}
        return result

    def _send_one(self, message: OutgoingMessage, token: str) -> str:
        url = f"{self.api_url}/v1/projects/{self.option('PROJECT_ID')}/messages:send"
        payload = self.build_payload(message, token)
        response = None
        for refresh in (False, True):
            headers = {"Authorization": f"Bearer {self.access_token(refresh=refresh)}"}
            response = self.request("POST", url, json=payload, headers=headers)
            if response.status_code != 401 or self.option("ACCESS_TOKEN"):
                break
        assert response is not None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200:
            return str(body.get("name", ""))
        error = body.get("error") or {}
        codes = {
            detail.get("errorCode")
            for detail in error.get("details", [])
            if isinstance(detail, dict)
        }
        if codes & GONE_TOKEN_CODES:
            raise InvalidAddress("The device token is no longer registered.")
        code = next((c for c in codes if c), "") or str(error.get("status", ""))
        raise http_status_error(response, str(error.get("message", ""))[:200], code)
