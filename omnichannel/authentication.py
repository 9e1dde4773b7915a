"""API keys with scopes for the REST API of every domain.

A client sends its key as ``Authorization: Bearer <key>``, as ``X-Api-Key: <key>``, or
as the password of HTTP Basic authentication (for webhook providers that can only
put credentials in the URL). Views name the scopes they need in
``required_scopes``; :class:`HasScopes` checks them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from omnichannel.profiles.models import APIKey

logger = logging.getLogger(__name__)

KEY_PREFIX = "omni"
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: Scope name -> what it allows. Other domains add theirs with ``register_scope``.
API_SCOPES: dict[str, Any] = {
    "events:write": _("Send events and batches of events."),
    "profiles:read": _("Read profiles and export a profile's data."),
    "profiles:write": _("Identify customers and store their stated preferences."),
    "profiles:erase": _("Erase a profile's personal data."),
    "consent:read": _("Read the consent state of profiles."),
    "consent:write": _("Record consent and pass inbound SMS keywords."),
    "journeys:enroll": _("Enroll customers in journeys triggered by the API."),
    "segments:read": _("Read segments, their members and rule previews."),
    "segments:write": _("Create, change and rebuild segments."),
    "messages:read": _("Read message templates and deliveries."),
    "experiments:read": _("Read A/B tests and their results."),
    "personalisation:read": _("Read placements, banners, pop-ups and their figures."),
    "personalisation:write": _("Create and change placements, banners and pop-ups."),
    "assistant:read": _("Read the assistant's usage and weekly insights."),
    "assistant:write": _("Ask the assistant for copy variants."),
}


def register_scope(name: str, description: Any) -> None:
    """Add a scope that API keys can be given, such as ``segments:read``."""
    if ":" not in name or " " in name:
        raise ValueError(f"Scope {name!r} must look like 'resource:action'.")
    API_SCOPES[name] = description


def digest_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    """Return a new key's public prefix and the whole secret key."""
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def create_api_key(
    name: str,
    scopes: Iterable[str],
    *,
    created_by: str = "",
    expires_at: datetime | None = None,
) -> tuple[APIKey, str]:
    """Create an API key and return it with the secret, which is not stored."""
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in API_SCOPES]
    if unknown:
        raise ValueError(
            f"Unknown scopes {unknown}; known scopes are {sorted(API_SCOPES)}."
        )
    if not name.strip():
        raise ValueError("An API key needs a name that states who uses it.")
    prefix, raw_key = generate_key()
    key = APIKey.objects.create(
        name=name.strip()[:100],
        prefix=prefix,
        digest=digest_key(raw_key),
        scopes=scopes,
        created_by=created_by[:150],
        expires_at=expires_at,
    )
    logger.info("created API key %s with scopes %s", prefix, ",".join(scopes))
    return key, raw_key


def find_api_key(raw_key: str) -> APIKey | None:
    """Return the active key matching ``raw_key``, or None."""
    parts = raw_key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = APIKey.objects.filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.digest, digest_key(raw_key.strip())):
        return None
    if not key.is_active():
        return None
    return key


class APIClient:
    """The user of a request authenticated by an API key."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, key: APIKey) -> None:
        self.key = key

    def __str__(self) -> str:
        return f"API key {self.key.name}"


class APIKeyAuthentication(BaseAuthentication):
    """Authenticate a request by an API key; ``request.auth`` is the APIKey."""

    def authenticate(self, request: Request) -> tuple[APIClient, APIKey] | None:
        raw_key = self._raw_key(request)
        if raw_key is None:
            return None
        key = find_api_key(raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed(
                _("The API key is invalid, expired or revoked.")
            )
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            APIKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return APIClient(key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="omnichannel"'

    def _raw_key(self, request: Request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _space, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return credentials.strip()
        if scheme.lower() == "basic" and credentials:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise exceptions.AuthenticationFailed(
                    _("The Basic credentials are not valid base64.")
                ) from None
            return decoded.partition(":")[2] or None
        return request.META.get("HTTP_X_API_KEY") or None


class HasScopes(BasePermission):
    """Allow a request whose API key holds every scope the view requires.

    A view sets ``required_scopes`` to a tuple, or to a dict of HTTP method to
    tuple when methods need different scopes.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, APIKey):
            return False
        required = getattr(view, "required_scopes", ())
        if isinstance(required, dict):
            required = required.get(request.method, ())
        missing = [scope for scope in required if scope not in key.scopes]
        if missing:
            self.message = _(
                "This API key lacks the scope %(scopes)s. Ask an administrator to "
                "add it to the key."
            ) % {"scopes": ", ".join(missing)}
            return False
        return True


class IsStaffOrHasScope(BasePermission):
    """Allow staff signed in to the admin, or an API key with the view's scope.

    The view names its resource in ``api_scope`` (such as ``"segments"``): reading
    needs ``<resource>:read``, any other method ``<resource>:write``.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if isinstance(key, APIKey):
            action = "read" if request.method in SAFE_METHODS else "write"
            scope = f"{view.api_scope}:{action}"
            if scope in key.scopes:
                return True
            self.message = _(
                "This API key lacks the scope %(scope)s. Ask an administrator to "
                "add it to the key."
            ) % {"scope": scope}
            return False
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class APIKeyScheme(OpenApiAuthenticationExtension):
    """Describe API key authentication in the OpenAPI schema."""

    target_class = "omnichannel.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created in the admin, sent as a bearer token.",
        }
