"""System checks for the ``OMNICHANNEL`` settings (ids omnichannel.E0xx / W0xx)."""

from __future__ import annotations

import importlib.util
import re
import zoneinfo
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from omnichannel.assistant.checks import check_assistant_settings
from omnichannel.conf import DEFAULTS, app_settings
from omnichannel.conversations.checks import check_conversation_settings
from omnichannel.predictions import checks as _prediction_checks  # noqa: F401
from omnichannel.security.checks import check_security_settings


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
    errors += _check_integration_settings()
    errors += _check_oscar()
    errors += _check_identity_and_consent()
    errors += _check_channels()
    errors += _check_analytics()
    errors += _check_offers()
    errors += _check_segment_settings()
    errors += check_conversation_settings()
    errors += check_assistant_settings()
    errors += _check_schema_class()
    errors += _check_monitoring()
    errors += check_security_settings()
    return errors


HEALTH_LIMITS = (
    "HEALTH_HEARTBEAT_MAX_AGE",
    "HEALTH_MAX_DUE_AGE",
    "HEALTH_BROKER_TIMEOUT",
)
MIN_MONITORING_TOKEN_LENGTH = 32


def _check_monitoring() -> list[Any]:
    errors = []
    token = app_settings.MONITORING_TOKEN
    if token is not None and (
        not isinstance(token, str) or len(token) < MIN_MONITORING_TOKEN_LENGTH
    ):
        errors.append(
            Error(
                "OMNICHANNEL['MONITORING_TOKEN'] must be None or a string of at "
                f"least {MIN_MONITORING_TOKEN_LENGTH} characters.",
                hint="Generate one with python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))', or set None to allow staff "
                "sessions only.",
                id="omnichannel.E120",
            )
        )
    for name in HEALTH_LIMITS:
        value = getattr(app_settings, name)
        if not isinstance(value, timedelta) or value <= timedelta(0):
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not a positive timedelta.",
                    hint=f"Use a datetime.timedelta (default {DEFAULTS[name]!r}).",
                    id="omnichannel.E121",
                )
            )
    return errors


def _check_schema_class() -> list[Any]:
    """Warn when DRF's schema class cannot produce the app's OpenAPI schema."""
    from rest_framework.settings import api_settings

    try:
        schema_class = api_settings.DEFAULT_SCHEMA_CLASS
    except ImportError as error:
        return [
            Warning(
                f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] cannot be imported: {error}.",
                hint="Set it to 'drf_spectacular.openapi.AutoSchema'.",
                id="omnichannel.W002",
            )
        ]
    from drf_spectacular.openapi import AutoSchema

    if isinstance(schema_class, type) and issubclass(schema_class, AutoSchema):
        return []
    name = getattr(schema_class, "__name__", repr(schema_class))
    return [
        Warning(
            f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is {name}, so the API schema at "
            "omnichannel/api/schema/ fails with a server error.",
            hint="Set REST_FRAMEWORK = {'DEFAULT_SCHEMA_CLASS': "
            "'drf_spectacular.openapi.AutoSchema'} (or a subclass of it).",
            id="omnichannel.W002",
        )
    ]


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
        "MAX_IDENTITIES_PER_KIND": (int, dict),
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


TIMEDELTA_SETTINGS = (
    "RECOMMENDATION_WINDOW",
    "DELIVERY_RETRY_DELAY",
    "DELIVERY_RETRY_MAX_DELAY",
    "DELIVERY_SENDING_TIMEOUT",
    "DELIVERY_PENDING_GRACE",
)


def _check_channels() -> list[Any]:
    errors = _check_backends()
    errors += _check_guards()
    errors += _check_channel_types()
    return errors


def _check_backends() -> list[Any]:
    from omnichannel.channels.models import MessageChannel
    from omnichannel.channels.registry import load_backend

    backends = app_settings.CHANNEL_BACKENDS
    if not isinstance(backends, dict):
        return [
            Error(
                "OMNICHANNEL['CHANNEL_BACKENDS'] must be a dict of channel to backend.",
                hint='For example {"sms": {"BACKEND": "omnichannel.channels.backends.'
                'sms.TwilioSMSBackend", "OPTIONS": {...}}}.',
                id="omnichannel.E030",
            )
        ]
    errors = []
    for channel in backends:
        if channel not in MessageChannel.values:
            errors.append(
                Error(
                    f"OMNICHANNEL['CHANNEL_BACKENDS'] names {channel!r}, which is not "
                    "a channel.",
                    hint=f"Use one of {', '.join(MessageChannel.values)}.",
                    id="omnichannel.E030",
                )
            )
    for channel in MessageChannel.values:
        try:
            backend = load_backend(channel)
        except ImproperlyConfigured as error:
            errors.append(
                Error(
                    str(error),
                    hint="Point it at a subclass of omnichannel.channels.backends."
                    "base.BaseBackend and give the OPTIONS its docstring lists.",
                    id="omnichannel.E031",
                )
            )
            continue
        errors += _check_backend_options(channel, backend)
    return errors


def _check_backend_options(channel: str, backend: Any) -> list[Any]:
    from omnichannel.channels.backends.webhook import WebhookBackend
    from omnichannel.channels.backends.webpush import WebPushBackend

    errors = []
    if isinstance(backend, WebPushBackend):
        missing = [
            name
            for name in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT")
            if not backend.option(name)
        ]
        if missing:
            errors.append(
                Error(
                    f"The web push backend lacks the options {', '.join(missing)}.",
                    hint="Generate a key pair with `vapid --gen` (py-vapid) and give "
                    "a mailto: or https: subject.",
                    id="omnichannel.E036",
                )
            )
    if isinstance(backend, WebhookBackend):
        if not backend.option("URL") or len(backend.option("SECRET") or "") < 32:
            errors.append(
                Error(
                    "The webhook backend needs a URL and a SECRET of at least 32 "
                    "characters.",
                    hint="Generate the secret with secrets.token_urlsafe(32) and "
                    "share it with the receiver.",
                    id="omnichannel.E037",
                )
            )
    return errors


def _check_guards() -> list[Any]:
    from omnichannel.channels.guards import parse_clock

    errors = []
    window = app_settings.QUIET_HOURS
    if window is not None:
        try:
            start, end = window
            parse_clock(start)
            parse_clock(end)
        except (TypeError, ValueError):
            errors.append(
                Error(
                    f"OMNICHANNEL['QUIET_HOURS'] = {window!r} is not a pair of times.",
                    hint='Write it as ("21:00", "09:00"), or None for no quiet hours.',
                    id="omnichannel.E032",
                )
            )
    caps = app_settings.FREQUENCY_CAPS
    valid = isinstance(caps, dict) and all(
        isinstance(cap, tuple | list)
        and len(cap) == 2
        and isinstance(cap[0], int)
        and cap[0] >= 0
        and isinstance(cap[1], timedelta)
        for cap in caps.values()
    )
    if not valid:
        errors.append(
            Error(
                "OMNICHANNEL['FREQUENCY_CAPS'] must map channels to pairs of count "
                "and timedelta.",
                hint='For example {"email": (3, timedelta(days=7))}.',
                id="omnichannel.E033",
            )
        )
    return errors


def _check_channel_types() -> list[Any]:
    from omnichannel.channels.recommendations import BaseRecommender

    errors = []
    for name in TIMEDELTA_SETTINGS:
        value = getattr(app_settings, name)
        if not isinstance(value, timedelta) or value <= timedelta(0):
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not a positive timedelta.",
                    hint=f"Use a datetime.timedelta (default {DEFAULTS[name]!r}).",
                    id="omnichannel.E035",
                )
            )
    attempts = app_settings.DELIVERY_MAX_ATTEMPTS
    if not isinstance(attempts, int) or attempts < 1:
        errors.append(
            Error(
                f"OMNICHANNEL['DELIVERY_MAX_ATTEMPTS'] = {attempts!r} is not a "
                "positive integer.",
                hint="Use 1 for no retries; the default is 5.",
                id="omnichannel.E035",
            )
        )
    try:
        recommender = app_settings.import_path("RECOMMENDER")
    except ImportError as error:
        recommender = None
        problem = str(error)
    else:
        problem = "it is not a subclass of BaseRecommender"
    if not (isinstance(recommender, type) and issubclass(recommender, BaseRecommender)):
        errors.append(
            Error(
                f"OMNICHANNEL['RECOMMENDER'] cannot be used: {problem}.",
                hint="Name a subclass of omnichannel.channels.recommendations."
                "BaseRecommender.",
                id="omnichannel.E034",
            )
        )
    site_url = app_settings.SITE_URL
    if (
        isinstance(site_url, str)
        and site_url.startswith("http://")
        and not (getattr(settings, "DEBUG", False))
    ):
        errors.append(
            Warning(
                "OMNICHANNEL['SITE_URL'] uses http, so tracking and unsubscribe links "
                "in messages travel unencrypted.",
                hint="Set SITE_URL to the shop's https address.",
                id="omnichannel.W030",
            )
        )
    return errors


ANALYTICS_WINDOWS = (
    "ATTRIBUTION_WINDOW",
    "JOURNEY_CONVERSION_WINDOW",
    "CART_RECOVERY_WINDOW",
    "LIFECYCLE_DROP_OFF_AFTER",
    "LIFECYCLE_LAPSE_AFTER",
)


def _check_analytics() -> list[Any]:
    errors = []
    for name in ANALYTICS_WINDOWS:
        value = getattr(app_settings, name)
        if not isinstance(value, timedelta) or value <= timedelta():
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not a positive timedelta.",
                    hint=f"Use for example timedelta(days=7); the default is "
                    f"{DEFAULTS[name]!r}.",
                    id="omnichannel.E070",
                )
            )
    seconds = app_settings.ANALYTICS_CACHE_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        errors.append(
            Error(
                f"OMNICHANNEL['ANALYTICS_CACHE_SECONDS'] = {seconds!r} is not a "
                "whole number of seconds.",
                hint="Use 0 to turn the dashboard cache off, or a positive integer.",
                id="omnichannel.E071",
            )
        )
    drop_off = app_settings.LIFECYCLE_DROP_OFF_AFTER
    lapse = app_settings.LIFECYCLE_LAPSE_AFTER
    if (
        isinstance(drop_off, timedelta)
        and isinstance(lapse, timedelta)
        and lapse < drop_off
    ):
        errors.append(
            Warning(
                "OMNICHANNEL['LIFECYCLE_LAPSE_AFTER'] is shorter than "
                "'LIFECYCLE_DROP_OFF_AFTER', so buyers drop off sooner than browsers.",
                hint="Customers who bought usually get the longer quiet time.",
                id="omnichannel.W070",
            )
        )
    return errors


# A code shorter than this has fewer than 2^40 values, few enough that a botnet
# spreading guesses over many IP addresses could find issued codes.
MIN_OFFER_CODE_LENGTH = 8


def _check_offers() -> list[Any]:
    from django.conf import settings as django_settings

    from omnichannel.offers.codes import ALPHABET, MAX_CODE_LENGTH
    from omnichannel.offers.shop import code_adapter

    errors = []
    length = app_settings.OFFER_CODE_LENGTH
    # The prefix (up to 12 characters) and its dash must fit as well.
    longest = MAX_CODE_LENGTH - 13
    if (
        isinstance(length, bool)
        or not isinstance(length, int)
        or not MIN_OFFER_CODE_LENGTH <= length <= longest
    ):
        errors.append(
            Error(
                f"OMNICHANNEL['OFFER_CODE_LENGTH'] = {length!r} is not a whole number "
                f"from {MIN_OFFER_CODE_LENGTH} to {longest}.",
                hint=f"Each character is one of {len(ALPHABET)} symbols; the default "
                f"{DEFAULTS['OFFER_CODE_LENGTH']} gives about 10^15 codes.",
                id="omnichannel.E050",
            )
        )
    for name in ("OFFER_CODE_CHECKS_PER_IP", "OFFER_CODE_CHECKS_PER_PROFILE"):
        value = getattr(app_settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not a positive whole "
                    "number.",
                    hint=f"It is the number of code checks allowed per window; the "
                    f"default is {DEFAULTS[name]}.",
                    id="omnichannel.E051",
                )
            )
    window = app_settings.OFFER_CODE_CHECK_WINDOW
    if not isinstance(window, timedelta) or window.total_seconds() < 1:
        errors.append(
            Error(
                f"OMNICHANNEL['OFFER_CODE_CHECK_WINDOW'] = {window!r} is not a "
                "timedelta of at least one second.",
                hint="Use for example timedelta(minutes=10), the default.",
                id="omnichannel.E052",
            )
        )
    alias = app_settings.OFFER_RATE_LIMIT_CACHE
    caches = getattr(django_settings, "CACHES", {"default": {}})
    if alias not in caches:
        errors.append(
            Error(
                f"OMNICHANNEL['OFFER_RATE_LIMIT_CACHE'] = {alias!r} is not a cache "
                "in settings.CACHES.",
                hint=f"Use one of {sorted(caches)}.",
                id="omnichannel.E053",
            )
        )
    elif caches[alias].get("BACKEND", "").endswith("DummyCache"):
        errors.append(
            Warning(
                f"The cache {alias!r} is a DummyCache, so offer code checks are not "
                "rate limited and codes can be guessed.",
                hint="Point OMNICHANNEL['OFFER_RATE_LIMIT_CACHE'] at a shared cache "
                "such as Redis.",
                id="omnichannel.W051",
            )
        )
    if code_adapter() is None:
        errors.append(
            Warning(
                "No adapter in OMNICHANNEL['SHOP_ADAPTERS'] creates discount codes, so "
                "offers that create their codes in the shop cannot issue any.",
                hint="Override create_discount_code() in the shop's order adapter "
                "(docs/adapters.md), or untick 'create codes in the shop' on offers "
                "redeemed only through the API.",
                id="omnichannel.W050",
            )
        )
    return errors


@register(Tags.compatibility)
def check_personalisation_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Check the personalisation settings (id omnichannel.E110)."""
    value = app_settings.PERSONALISATION_CACHE_TIMEOUT
    if isinstance(value, timedelta) and value >= timedelta(0):
        return []
    return [
        Error(
            f"OMNICHANNEL['PERSONALISATION_CACHE_TIMEOUT'] = {value!r} is not a "
            "timedelta of zero or more.",
            hint="Use for example timedelta(minutes=5), the default, or "
            "timedelta(0) to read banners from the database on every page.",
            id="omnichannel.E110",
        )
    ]


@register(Tags.compatibility)
def check_audience_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Check the ad platform settings (ids omnichannel.E080-E089, W080-W089)."""
    errors: list[Any] = []
    for name in (
        "AUDIENCE_SYNC_INTERVAL",
        "AUDIENCE_SYNC_LOCK_TIMEOUT",
        "AUDIENCE_HTTP_TIMEOUT",
        "AUDIENCE_RETRY_BASE_DELAY",
        "AUDIENCE_RETRY_MAX_DELAY",
    ):
        value = getattr(app_settings, name)
        if not isinstance(value, timedelta) or value < timedelta(0):
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not a timedelta of zero "
                    "or more.",
                    hint=f"Use datetime.timedelta, such as {DEFAULTS[name]!r}.",
                    id="omnichannel.E084",
                )
            )
    delay = app_settings.AUDIENCE_SYNC_DELAY_AFTER_CHANGE
    if delay is not None and not isinstance(delay, timedelta):
        errors.append(
            Error(
                "OMNICHANNEL['AUDIENCE_SYNC_DELAY_AFTER_CHANGE'] must be a timedelta "
                "or None.",
                hint="None keeps each audience on its own interval.",
                id="omnichannel.E084",
            )
        )
    attempts = app_settings.AUDIENCE_RETRY_MAX_ATTEMPTS
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        errors.append(
            Error(
                f"OMNICHANNEL['AUDIENCE_RETRY_MAX_ATTEMPTS'] = {attempts!r} is not a "
                "whole number of at least 1.",
                hint="1 sends each request once, without retries.",
                id="omnichannel.E084",
            )
        )
    return errors + _check_audience_platforms()


def _check_audience_platforms() -> list[Any]:
    from omnichannel.audiences.platforms import load_platform

    platforms = app_settings.AUDIENCE_PLATFORMS
    if not isinstance(platforms, dict):
        return [
            Error(
                "OMNICHANNEL['AUDIENCE_PLATFORMS'] must be a dict of platform key to "
                "options.",
                hint='For example {"meta": {"BACKEND": '
                '"omnichannel.audiences.platforms.meta.MetaPlatform"}}.',
                id="omnichannel.E080",
            )
        ]
    errors: list[Any] = []
    for key, options in platforms.items():
        if not isinstance(key, str) or not key.isidentifier():
            errors.append(
                Error(
                    f"OMNICHANNEL['AUDIENCE_PLATFORMS'] key {key!r} is not a name of "
                    "letters, digits and underscores.",
                    hint="Use a short name such as 'meta' or 'google_eu'; it also "
                    "names the OMNICHANNEL_<KEY>_<OPTION> environment variables.",
                    id="omnichannel.E080",
                )
            )
            continue
        try:
            platform = load_platform(key, options)
        except ImproperlyConfigured as error:
            errors.append(
                Error(
                    str(error),
                    hint="Point BACKEND at omnichannel.audiences.platforms.meta."
                    "MetaPlatform, omnichannel.audiences.platforms.google."
                    "GooglePlatform or your own AdPlatform subclass.",
                    id="omnichannel.E081",
                )
            )
            continue
        errors += platform.check()
        if not platform.has_credentials():
            errors.append(
                Warning(
                    f"Ad platform {key!r} has no credentials in its options or the "
                    "environment, so its audiences cannot sync.",
                    hint=f"Set one of {', '.join(platform.credential_options)} or "
                    f"the environment variable "
                    f"{platform.env_variable(platform.credential_options[0])}.",
                    id="omnichannel.W080",
                )
            )
    return errors


def _check_integration_settings() -> list[Any]:
    errors = []
    policy = app_settings.SHOP_ADAPTER_ERRORS
    if policy not in ("log", "raise"):
        errors.append(
            Error(
                f"OMNICHANNEL['SHOP_ADAPTER_ERRORS'] = {policy!r} is not 'log' or "
                "'raise'.",
                hint="Use 'log' in production so an adapter error cannot fail a "
                "checkout, and 'raise' in tests.",
                id="omnichannel.E090",
            )
        )
    after = app_settings.CART_ABANDONED_AFTER
    max_age = app_settings.CART_ABANDONED_MAX_AGE
    for name, value in (
        ("CART_ABANDONED_AFTER", after),
        ("CART_ABANDONED_MAX_AGE", max_age),
    ):
        if not isinstance(value, timedelta) or value <= timedelta(0):
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not a positive timedelta.",
                    hint=f"Use a datetime.timedelta, such as {DEFAULTS[name]!r}.",
                    id="omnichannel.E091",
                )
            )
    if (
        isinstance(after, timedelta)
        and isinstance(max_age, timedelta)
        and max_age <= after
    ):
        errors.append(
            Error(
                "OMNICHANNEL['CART_ABANDONED_MAX_AGE'] is not longer than "
                "CART_ABANDONED_AFTER, so no cart would ever be reported.",
                hint="Make CART_ABANDONED_MAX_AGE longer, for example 7 days.",
                id="omnichannel.E091",
            )
        )
    return errors


OSCAR_STATUS_KEYS = ("paid", "cancelled", "refunded")


def _check_oscar() -> list[Any]:
    errors = []
    statuses = app_settings.OSCAR_ORDER_STATUSES
    valid = isinstance(statuses, dict) and all(
        key in OSCAR_STATUS_KEYS
        and isinstance(value, list | tuple)
        and all(isinstance(item, str) for item in value)
        for key, value in statuses.items()
    )
    if not valid:
        errors.append(
            Error(
                "OMNICHANNEL['OSCAR_ORDER_STATUSES'] must be a dict with the keys "
                "'paid', 'cancelled' and 'refunded', each a list of Oscar order "
                "statuses.",
                hint=f"For example {DEFAULTS['OSCAR_ORDER_STATUSES']!r}.",
                id="omnichannel.E092",
            )
        )
    adapters = app_settings.SHOP_ADAPTERS
    if not isinstance(adapters, dict) or importlib.util.find_spec("oscar") is None:
        return errors

    from oscar.core.loading import get_model as oscar_get_model

    from omnichannel.integrations.oscar import adapters as oscar_adapters

    expected = {
        oscar_adapters.OrderAdapter: ("order", "Order"),
        oscar_adapters.BasketAdapter: ("basket", "Basket"),
    }
    found: set[type] = set()
    for label, path in adapters.items():
        try:
            adapter_class = import_string(path)
            model = apps.get_model(label)
        except (ImportError, LookupError, ValueError, ImproperlyConfigured):
            continue  # omnichannel.E002 and E003 report these.
        for oscar_class, (app_label, model_name) in expected.items():
            if not (
                isinstance(adapter_class, type)
                and issubclass(adapter_class, oscar_class)
            ):
                continue
            found.add(oscar_class)
            oscar_model = oscar_get_model(app_label, model_name)
            if model is not oscar_model:
                errors.append(
                    Error(
                        f"OMNICHANNEL['SHOP_ADAPTERS'] gives {path} to {label!r}, "
                        f"but it reads Oscar's {oscar_model._meta.label}.",
                        hint=f"Use {oscar_model._meta.label!r} as the key.",
                        id="omnichannel.E093",
                    )
                )
    if found and "omnichannel.middleware.OmnichannelMiddleware" not in getattr(
        settings, "MIDDLEWARE", []
    ):
        errors.append(
            Warning(
                "The Oscar adapters are configured but OmnichannelMiddleware is not "
                "in MIDDLEWARE, so anonymous baskets and product views cannot be "
                "tied to a visitor and are not recorded.",
                hint="Add 'omnichannel.middleware.OmnichannelMiddleware' after "
                "AuthenticationMiddleware.",
                id="omnichannel.W090",
            )
        )
    if found and len(found) < len(expected):
        missing = (
            "basket.Basket" if oscar_adapters.OrderAdapter in found else "order.Order"
        )
        errors.append(
            Warning(
                f"Only one Oscar adapter is configured; {missing} has none, so its "
                "events are not recorded.",
                hint="Use omnichannel.integrations.oscar.SHOP_ADAPTERS, which names "
                "both.",
                id="omnichannel.W091",
            )
        )
    return errors


def _check_segment_settings() -> list[Any]:
    timeout = app_settings.SEGMENT_PREVIEW_TIMEOUT
    if not isinstance(timeout, timedelta) or timeout <= timedelta(0):
        return [
            Error(
                "OMNICHANNEL['SEGMENT_PREVIEW_TIMEOUT'] must be a positive timedelta, "
                f"not {timeout!r}.",
                hint="For example timedelta(seconds=5).",
                id="omnichannel.E020",
            )
        ]
    return []


@register(Tags.database)
def check_segment_rules(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Validate every stored segment rule (run by ``check --database``).

    A rule that was valid when saved breaks when a condition type is unregistered
    or an event type leaves EXTRA_EVENT_TYPES.
    """
    from django.db import DatabaseError

    from omnichannel.exceptions import InvalidRule
    from omnichannel.segments.models import Segment

    databases = kwargs.get("databases") or []
    if "default" not in databases:
        return []
    errors: list[Any] = []
    try:
        segments = list(Segment.objects.only("pk", "slug", "rules", "is_active"))
    except DatabaseError:
        return []
    active = {segment.slug for segment in segments if segment.is_active}
    for segment in segments:
        try:
            segment.validate_rules()
        except InvalidRule as error:
            errors.append(
                Error(
                    f"Segment {segment.slug!r} has an invalid rule: {error}",
                    hint="Edit the rule in the admin; until then rebuilds of this "
                    "segment fail.",
                    obj=segment,
                    id="omnichannel.E021",
                )
            )
            continue
        from omnichannel.segments.graph import references

        for slug in sorted(references(segment.rules) - active):
            if segment.is_active:
                errors.append(
                    Warning(
                        f"Segment {segment.slug!r} reads the membership of inactive "
                        f"segment {slug!r}, which is no longer updated.",
                        hint=f"Activate {slug!r} or remove the condition.",
                        obj=segment,
                        id="omnichannel.W020",
                    )
                )
    errors += _check_periodic_rebuild(segments)
    return errors


def _check_periodic_rebuild(segments: list[Any]) -> list[Any]:
    if not apps.is_installed("django_celery_beat"):
        return []
    if not any(s.is_active and s.rebuild_periodically for s in segments):
        return []
    from django_celery_beat.models import PeriodicTask

    task = "omnichannel.segments.rebuild_periodic"
    if PeriodicTask.objects.filter(task=task, enabled=True).exists():
        return []
    beat_schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", {}) or {}
    if any(entry.get("task") == task for entry in beat_schedule.values()):
        return []
    return [
        Warning(
            "Some segments depend on time or batch scores, but no periodic task "
            f"runs {task}; their members will go stale.",
            hint="Run manage.py omnichannel_install_segments, or add the task to "
            "your celery beat schedule.",
            id="omnichannel.W021",
        )
    ]


# A development server on the developer's machine runs on http; that is fine there.
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _check_identity_and_consent() -> list[Any]:
    errors: list[Any] = []
    errors += _check_identity_limits()
    errors += _check_path_patterns()
    errors += _check_retention()
    errors += _check_api_limits()
    errors += _check_consent_settings()
    errors += _check_merge_hooks()
    errors += _check_erasure_hooks()
    return errors


def _check_identity_limits() -> list[Any]:
    setting = app_settings.MAX_IDENTITIES_PER_KIND
    values = setting.values() if isinstance(setting, dict) else [setting]
    keys_ok = not isinstance(setting, dict) or set(setting) <= {"email", "phone"}
    if keys_ok and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        return []
    return [
        Error(
            f"OMNICHANNEL['MAX_IDENTITIES_PER_KIND'] = {setting!r} is not valid.",
            hint="Use a whole number of at least 1, or a dict such as "
            '{"email": 2, "phone": 1}.',
            id="omnichannel.E010",
        )
    ]


def _check_path_patterns() -> list[Any]:
    errors = []
    for name in ("TRACK_PRODUCT_PATHS", "TRACK_CATEGORY_PATHS", "TRACK_PATHS_EXCLUDE"):
        patterns = getattr(app_settings, name)
        if not isinstance(patterns, list | tuple):
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] must be a list of regular expressions.",
                    hint=r'For example [r"^/products/(?P<slug>[-\w]+)/$"].',
                    id="omnichannel.E011",
                )
            )
            continue
        for pattern in patterns:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as error:
                errors.append(
                    Error(
                        f"OMNICHANNEL[{name!r}] contains {pattern!r}, which is not a "
                        f"regular expression: {error}.",
                        hint="Fix the pattern; it is matched against request.path.",
                        id="omnichannel.E011",
                    )
                )
    return errors


def _check_retention() -> list[Any]:
    from omnichannel.profiles.aggregates import AGGREGATE_EVENTS
    from omnichannel.profiles.events import known_event_types

    setting = app_settings.EVENT_RETENTION
    if not isinstance(setting, dict):
        return [
            Error(
                "OMNICHANNEL['EVENT_RETENTION'] must be a dict of event name to "
                "timedelta or None.",
                hint='For example {"page_viewed": timedelta(days=395)}.',
                id="omnichannel.E012",
            )
        ]
    errors = []
    known = known_event_types() | {"*"}
    for name, period in setting.items():
        if name not in known:
            errors.append(
                Error(
                    f"OMNICHANNEL['EVENT_RETENTION'] names {name!r}, which is not an "
                    "event type.",
                    hint="Use a built-in type, one of EXTRA_EVENT_TYPES, or '*'.",
                    id="omnichannel.E012",
                )
            )
        elif period is not None and (
            not isinstance(period, timedelta) or period <= timedelta(0)
        ):
            errors.append(
                Error(
                    f"OMNICHANNEL['EVENT_RETENTION'][{name!r}] = {period!r} is not a "
                    "positive timedelta.",
                    hint="Use timedelta(days=...) or None to keep forever.",
                    id="omnichannel.E012",
                )
            )
        elif period is not None and name in AGGREGATE_EVENTS:
            errors.append(
                Warning(
                    f"OMNICHANNEL['EVENT_RETENTION'] sets a period for {name!r}, "
                    "which is never deleted because order totals are computed "
                    "from it.",
                    hint=f"Remove {name!r} from EVENT_RETENTION.",
                    id="omnichannel.W010",
                )
            )
    return errors


def _check_api_limits() -> list[Any]:
    errors = []
    for name in ("API_MAX_BATCH_SIZE", "API_MAX_REQUEST_BYTES"):
        value = getattr(app_settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} must be a positive whole "
                    "number.",
                    hint=f"The default is {DEFAULTS[name]!r}.",
                    id="omnichannel.E013",
                )
            )
    return errors


def _check_consent_settings() -> list[Any]:
    return _check_unsubscribe_settings() + _check_opt_in_and_keywords()


def _check_unsubscribe_settings() -> list[Any]:
    errors: list[Any] = []
    site_url = app_settings.SITE_URL
    host = urlsplit(site_url).hostname if isinstance(site_url, str) else None
    if (
        isinstance(site_url, str)
        and not site_url.startswith("https://")
        and host not in LOCAL_HOSTS
    ):
        errors.append(
            Warning(
                f"OMNICHANNEL['SITE_URL'] = {site_url!r} is not an https address, so "
                "unsubscribe links are not one-click for mail providers.",
                hint="RFC 8058 requires an https List-Unsubscribe URL; set SITE_URL "
                "to the shop's https address.",
                id="omnichannel.W011",
            )
        )

    mailbox = app_settings.UNSUBSCRIBE_MAILTO
    if mailbox is not None and (not isinstance(mailbox, str) or "@" not in mailbox):
        errors.append(
            Error(
                f"OMNICHANNEL['UNSUBSCRIBE_MAILTO'] = {mailbox!r} is not an email "
                "address.",
                hint="Use the address of a mailbox whose mail reaches anymail's "
                "inbound signal, or None.",
                id="omnichannel.E014",
            )
        )
    elif mailbox is None:
        errors.append(
            Warning(
                "OMNICHANNEL['UNSUBSCRIBE_MAILTO'] is not set, so List-Unsubscribe "
                "headers carry no mailto address.",
                hint="Set it to a mailbox whose inbound mail anymail receives.",
                id="omnichannel.W012",
            )
        )
    return errors


def _check_opt_in_and_keywords() -> list[Any]:
    errors: list[Any] = []
    max_age = app_settings.DOUBLE_OPT_IN_MAX_AGE
    if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
        errors.append(
            Error(
                f"OMNICHANNEL['DOUBLE_OPT_IN_MAX_AGE'] = {max_age!r} is not a "
                "positive timedelta.",
                hint="For example timedelta(days=7).",
                id="omnichannel.E015",
            )
        )

    stop = app_settings.SMS_STOP_KEYWORDS
    start = app_settings.SMS_START_KEYWORDS
    lists_ok = all(
        isinstance(words, list | tuple) and all(isinstance(w, str) for w in words)
        for words in (stop, start)
    )
    if not lists_ok:
        errors.append(
            Error(
                "OMNICHANNEL['SMS_STOP_KEYWORDS'] and ['SMS_START_KEYWORDS'] must be "
                "lists of strings.",
                hint='For example ["STOP", "UNSUBSCRIBE"].',
                id="omnichannel.E016",
            )
        )
    elif {w.upper() for w in stop} & {w.upper() for w in start}:
        errors.append(
            Error(
                "A keyword is in both SMS_STOP_KEYWORDS and SMS_START_KEYWORDS.",
                hint="Keep each keyword in one list.",
                id="omnichannel.E016",
            )
        )
    return errors


def _check_merge_hooks() -> list[Any]:
    """Find models whose unique constraints would break the generic merge."""
    from omnichannel.profiles.merging import _relations

    warnings = []
    for relation in _relations():
        model = relation.related_model
        if model._meta.auto_created or hasattr(model, "merge_profiles"):
            continue
        field_name = relation.field.name
        unique_sets = [list(fields) for fields in model._meta.unique_together]
        unique_sets += [
            list(constraint.fields)
            for constraint in model._meta.constraints
            if getattr(constraint, "fields", None)
        ]
        if relation.one_to_many and any(field_name in fields for fields in unique_sets):
            warnings.append(
                Warning(
                    f"{model._meta.label} has a unique constraint on its foreign "
                    "key to Profile but no merge_profiles classmethod, so when two "
                    "merged profiles both have a row, the loser's row stays behind.",
                    hint="Define merge_profiles(survivor, loser) returning the "
                    "primary keys it moved.",
                    obj=model,
                    id="omnichannel.W013",
                )
            )
    return warnings


def _check_erasure_hooks() -> list[Any]:
    """Find models whose text fields a GDPR erasure would leave untouched."""
    from django.db import models

    from omnichannel.profiles.merging import _relations

    warnings = []
    for relation in _relations():
        model = relation.related_model
        if model._meta.auto_created:
            continue
        if hasattr(model, "gdpr_erase") or getattr(model, "gdpr_keep", False):
            continue
        text_fields = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
            and not field.choices
        ]
        if text_fields:
            warnings.append(
                Warning(
                    f"{model._meta.label} has a foreign key to Profile and text "
                    f"fields ({', '.join(text_fields)}) but neither a gdpr_erase "
                    "classmethod nor gdpr_keep = True, so erasing a profile leaves "
                    "its rows unchanged.",
                    hint="Define gdpr_erase(profile) that deletes or blanks personal "
                    "data, or set gdpr_keep = True if the rows hold none.",
                    obj=model,
                    id="omnichannel.W014",
                )
            )
    return warnings
