"""System checks for the ``OMNICHANNEL`` settings (ids omnichannel.E0xx / W0xx)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

import phonenumbers
from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from omnichannel.conf import DEFAULTS, app_settings
from omnichannel.conversations.checks import check_conversation_settings


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    user = getattr(settings, "OMNICHANNEL", {})
    if not isinstance(user, dict):
        return [
            Error(
                "OMNICHANNEL must be a dict.",
                hint="Set OMNICHANNEL = {...} in your settings module.",
                id="omnichannel.E001",
            )
        ]
    for name in user:
        if name not in DEFAULTS:
            errors.append(
                Warning(
                    f"OMNICHANNEL[{name!r}] is not a known setting and is ignored.",
                    hint="Check the spelling against docs/settings.md.",
                    id="omnichannel.W001",
                )
            )
    errors += _check_adapters()
    errors += _check_region_and_zone()
    errors += _check_types()
    errors += check_conversation_settings()
    return errors


def _check_adapters() -> list[Any]:
    from omnichannel.integrations.registry import load_adapter

    errors = []
    adapters = app_settings.SHOP_ADAPTERS
    if not isinstance(adapters, dict):
        return [
            Error(
                "OMNICHANNEL['SHOP_ADAPTERS'] must be a dict of model label to "
                "adapter class path.",
                hint='For example {"shop.Order": "shop.adapters.OrderAdapter"}.',
                id="omnichannel.E002",
            )
        ]
    for label, path in adapters.items():
        try:
            apps.get_model(label)
        except (LookupError, ValueError):
            errors.append(
                Error(
                    f"OMNICHANNEL['SHOP_ADAPTERS'] names model {label!r}, which is "
                    "not installed.",
                    hint="Use 'app_label.ModelName' of a model in INSTALLED_APPS.",
                    id="omnichannel.E002",
                )
            )
            continue
        try:
            load_adapter(label, path)
        except ImproperlyConfigured as error:
            errors.append(
                Error(
                    str(error),
                    hint="Point it at a subclass of OrderAdapter or CartAdapter.",
                    id="omnichannel.E003",
                )
            )
    return errors


def _check_region_and_zone() -> list[Any]:
    errors = []
    region = app_settings.DEFAULT_PHONE_REGION
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        errors.append(
            Error(
                f"OMNICHANNEL['DEFAULT_PHONE_REGION'] = {region!r} is not a region "
                "phonenumbers knows.",
                hint="Use an ISO 3166-1 alpha-2 code in capitals, such as 'DE' or "
                "'GB', or None to accept only international numbers.",
                id="omnichannel.E004",
            )
        )
    zone = app_settings.DEFAULT_TIME_ZONE
    if zone is not None:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            errors.append(
                Error(
                    f"OMNICHANNEL['DEFAULT_TIME_ZONE'] = {zone!r} is not an IANA "
                    "time zone.",
                    hint="Use a name such as 'Europe/Berlin', or None to use "
                    "settings.TIME_ZONE.",
                    id="omnichannel.E005",
                )
            )
    if not getattr(settings, "USE_TZ", False):
        errors.append(
            Error(
                "The app stores aware datetimes in UTC and needs USE_TZ = True.",
                hint="Set USE_TZ = True in your settings.",
                id="omnichannel.E006",
            )
        )
    return errors


def _check_types() -> list[Any]:
    expected = {
        "VISITOR_COOKIE_AGE": timedelta,
        "BLOCKED_IDENTIFIERS": (list, tuple),
        "EXTRA_EVENT_TYPES": (list, tuple),
        "TRACK_PATHS_EXCLUDE": (list, tuple),
        "BOT_USER_AGENTS": (list, tuple),
        "TRACK_PAGE_VIEWS": bool,
        "SITE_URL": str,
        "DEFAULT_CURRENCY": str,
        "MAX_IDENTITIES_PER_KIND": int,
    }
    errors = []
    for name, types in expected.items():
        value = getattr(app_settings, name)
        if not isinstance(value, types):
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] has type {type(value).__name__}.",
                    hint=f"Use the type documented in docs/settings.md (default "
                    f"{DEFAULTS[name]!r}).",
                    id="omnichannel.E007",
                )
            )
    currency = app_settings.DEFAULT_CURRENCY
    if isinstance(currency, str) and not (len(currency) == 3 and currency.isupper()):
        errors.append(
            Error(
                f"OMNICHANNEL['DEFAULT_CURRENCY'] = {currency!r} is not an ISO 4217 "
                "code.",
                hint="Use three capital letters, such as 'EUR'.",
                id="omnichannel.E008",
            )
        )
    return errors
