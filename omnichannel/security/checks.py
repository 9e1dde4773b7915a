"""System checks of the rate-limit, outbound URL and schema settings (ids
omnichannel.E130-E139, W130-W139)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS
from django.core.checks import Error, Warning

from omnichannel.conf import app_settings
from omnichannel.security.ratelimit import SCOPES, parse_rate


def check_security_settings() -> list[Any]:
    return [*_check_rate_limits(), *_check_allowed_hosts(), *_check_enum_names()]


def _check_rate_limits() -> list[Any]:
    errors: list[Any] = []
    limits = app_settings.RATE_LIMITS
    hint = (
        f"Use a dict of scope ({', '.join(SCOPES)}) to a rate such as '600/min', "
        "or None for no limit."
    )
    if not isinstance(limits, dict):
        return [
            Error(
                f"OMNICHANNEL['RATE_LIMITS'] = {limits!r} is not a dict.",
                hint=hint,
                id="omnichannel.E130",
            )
        ]
    for scope, rate in limits.items():
        problem = None
        if scope not in SCOPES:
            problem = "is not a known scope"
        elif rate is not None:
            try:
                parse_rate(rate)
            except ValueError as error:
                problem = str(error)
        if problem:
            errors.append(
                Error(
                    f"OMNICHANNEL['RATE_LIMITS'][{scope!r}]: {problem}",
                    hint=hint,
                    id="omnichannel.E130",
                )
            )

    errors += check_rate_limit_cache(
        "RATE_LIMIT_CACHE",
        limited="the public endpoints have",
        error_id="omnichannel.E131",
        warning_id="omnichannel.W130",
    )
    return errors


def check_rate_limit_cache(
    name: str, *, limited: str, error_id: str, warning_id: str
) -> list[Any]:
    """Check that the cache alias in ``OMNICHANNEL[name]`` exists and counts.

    ``limited`` names what loses its limits under a DummyCache, such as "the chat
    has".
    """
    alias = getattr(app_settings, name)
    caches = getattr(settings, "CACHES", {DEFAULT_CACHE_ALIAS: {}})
    if alias not in caches:
        return [
            Error(
                f"OMNICHANNEL[{name!r}] = {alias!r} is not in CACHES.",
                hint="Name a cache alias from settings.CACHES, such as 'default'.",
                id=error_id,
            )
        ]
    if "DummyCache" in str(caches[alias].get("BACKEND", "")):
        return [
            Warning(
                f"The cache {alias!r} is a DummyCache, so {limited} no rate limits.",
                hint=f"Point OMNICHANNEL[{name!r}] at a real cache, "
                "ideally Redis shared by all processes.",
                id=warning_id,
            )
        ]
    return []


def _check_allowed_hosts() -> list[Any]:
    hosts = app_settings.WEBHOOK_ALLOWED_HOSTS
    if isinstance(hosts, list | tuple) and all(isinstance(h, str) for h in hosts):
        return []
    return [
        Error(
            f"OMNICHANNEL['WEBHOOK_ALLOWED_HOSTS'] = {hosts!r} is not a list of "
            "strings.",
            hint="List host names, addresses or networks such as "
            "['crm.internal', '10.0.5.0/24'].",
            id="omnichannel.E132",
        )
    ]


def _check_enum_names() -> list[Any]:
    from omnichannel.rest import ENUM_NAME_OVERRIDES

    if "drf_spectacular" not in settings.INSTALLED_APPS:
        return []
    spectacular = getattr(settings, "SPECTACULAR_SETTINGS", {}) or {}
    overrides = spectacular.get("ENUM_NAME_OVERRIDES", {}) or {}
    missing = [name for name in ENUM_NAME_OVERRIDES if name not in overrides]
    if not missing:
        return []
    return [
        Warning(
            "SPECTACULAR_SETTINGS['ENUM_NAME_OVERRIDES'] lacks "
            f"{', '.join(missing)}, so the OpenAPI schema names the app's "
            "'channel' enums with a hash and drf-spectacular warns.",
            hint="Add the entries of omnichannel.rest.ENUM_NAME_OVERRIDES "
            "(docs/api.md).",
            id="omnichannel.W131",
        )
    ]
