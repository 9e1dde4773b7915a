"""System checks of the conversation settings (ids omnichannel.E040-E049, W040-W049)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning
from django.utils.module_loading import import_string

from omnichannel.conf import DEFAULTS, app_settings

MIDDLEWARE_PATH = "omnichannel.middleware.OmnichannelMiddleware"
MIN_SECRET_LENGTH = 24
SENDER_HINT = "Name a subclass of omnichannel.conversations.replies.ReplySender."


def check_conversation_settings() -> list[Any]:
    errors: list[Any] = []
    errors += _check_middleware()
    errors += _check_types()
    errors += _check_bot()
    errors += _check_rate_limits()
    errors += _check_coupon()
    errors += _check_reply_sender()
    errors += _check_secret()
    errors += _check_htmx()
    return errors


def _check_middleware() -> list[Any]:
    if MIDDLEWARE_PATH in getattr(settings, "MIDDLEWARE", []):
        return []
    return [
        Error(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE; the chat binds each "
            "conversation to the visitor cookie that middleware sets.",
            hint="Add it after Django's AuthenticationMiddleware.",
            id="omnichannel.E040",
        )
    ]


def _check_types() -> list[Any]:
    expected: dict[str, Any] = {
        "PAUSE_MARKETING_DURING_CONVERSATION": bool,
        "CONVERSATION_BOT_CHANNELS": (list, tuple),
        "CONVERSATION_HANDOVER_KEYWORDS": (list, tuple),
        "CONVERSATION_IDLE_TIMEOUT": timedelta,
        "CHAT_MESSAGE_MAX_LENGTH": int,
        "INBOUND_MESSAGE_MAX_LENGTH": int,
        "CHAT_STREAM_SECONDS": (int, float),
        "CHAT_POLL_SECONDS": int,
        "VIP_RFM_GROUPS": (list, tuple),
        "VIP_SEGMENTS": (list, tuple),
        "VIP_THANK_YOU_DAYS": int,
        "VIP_COUPON": dict,
        "CHAT_RATE_LIMITS": dict,
    }
    positive = {
        "CHAT_MESSAGE_MAX_LENGTH",
        "INBOUND_MESSAGE_MAX_LENGTH",
        "CHAT_POLL_SECONDS",
    }
    errors: list[Any] = []
    for name, types in expected.items():
        value = getattr(app_settings, name)
        wrong_type = not isinstance(value, types) or (
            isinstance(value, bool) and types is not bool
        )
        if wrong_type or (name in positive and value < 1):
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not valid.",
                    hint=f"Use the type in docs/settings.md, such as the default "
                    f"{DEFAULTS[name]!r}; lengths and intervals must be at least 1.",
                    id="omnichannel.E043",
                )
            )
    stream = app_settings.CHAT_STREAM_SECONDS
    if isinstance(stream, int | float) and not isinstance(stream, bool) and stream < 0:
        errors.append(
            Error(
                f"OMNICHANNEL['CHAT_STREAM_SECONDS'] = {stream!r} is negative.",
                hint="Use 0 or more; 0 sends what is there and ends the stream.",
                id="omnichannel.E043",
            )
        )
    minimum = app_settings.VIP_MIN_LIFETIME_VALUE
    if minimum is not None and _decimal(minimum) is None:
        errors.append(
            Error(
                f"OMNICHANNEL['VIP_MIN_LIFETIME_VALUE'] = {minimum!r} is not an "
                "amount.",
                hint="Use None, or an amount such as '500.00'.",
                id="omnichannel.E043",
            )
        )
    return errors


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _check_bot() -> list[Any]:
    from omnichannel.conversations.bots.base import BaseBot

    path = app_settings.CONVERSATION_BOT
    if path is None:
        return []
    hint = (
        "Name a subclass of omnichannel.conversations.bots.base.BaseBot, or set "
        "None to send every conversation to the human queue."
    )
    if not isinstance(path, str):
        return [
            Error(
                f"OMNICHANNEL['CONVERSATION_BOT'] = {path!r} is not a dotted path.",
                hint=hint,
                id="omnichannel.E041",
            )
        ]
    try:
        bot_class = import_string(path)
    except ImportError as error:
        return [
            Error(
                f"OMNICHANNEL['CONVERSATION_BOT'] = {path!r} cannot be imported: "
                f"{error}",
                hint=hint,
                id="omnichannel.E041",
            )
        ]
    if not (isinstance(bot_class, type) and issubclass(bot_class, BaseBot)):
        return [
            Error(
                f"OMNICHANNEL['CONVERSATION_BOT'] = {path!r} is not a BaseBot "
                "subclass.",
                hint=hint,
                id="omnichannel.E041",
            )
        ]
    return []


def _check_rate_limits() -> list[Any]:
    from omnichannel.conversations.throttles import parse_rate

    errors: list[Any] = []
    limits = app_settings.CHAT_RATE_LIMITS
    hint = (
        'Use {"start": {"visitor": "5/hour", "ip": "30/hour"}, "message": {...}, '
        '"read": {...}}; a missing or None rate means no limit.'
    )
    if isinstance(limits, dict):
        for scope, rates in limits.items():
            if scope not in ("start", "message", "read") or not isinstance(rates, dict):
                errors.append(
                    Error(
                        f"OMNICHANNEL['CHAT_RATE_LIMITS'][{scope!r}] is not a known "
                        "scope with a dict of rates.",
                        hint=hint,
                        id="omnichannel.E042",
                    )
                )
                continue
            for kind, rate in rates.items():
                problem = None
                if kind not in ("visitor", "ip"):
                    problem = "keys must be 'visitor' and 'ip'"
                elif rate is not None:
                    try:
                        parse_rate(rate)
                    except ValueError as error:
                        problem = str(error)
                if problem:
                    errors.append(
                        Error(
                            f"OMNICHANNEL['CHAT_RATE_LIMITS'][{scope!r}][{kind!r}]: "
                            f"{problem}",
                            hint=hint,
                            id="omnichannel.E042",
                        )
                    )

    from omnichannel.security.checks import check_rate_limit_cache

    errors += check_rate_limit_cache(
        "CHAT_RATE_LIMIT_CACHE",
        limited="the chat has",
        error_id="omnichannel.E046",
        warning_id="omnichannel.W041",
    )
    return errors


def _check_coupon() -> list[Any]:
    from omnichannel.conversations.coupons import COUPON_KINDS

    config = app_settings.VIP_COUPON
    if not isinstance(config, dict):
        return []
    problems = []
    if config.get("kind", "percent") not in COUPON_KINDS:
        problems.append(f"kind must be one of {', '.join(COUPON_KINDS)}")
    value = _decimal(config.get("value", "10"))
    if value is None or value < 0:
        problems.append("value must be an amount of 0 or more")
    elif config.get("kind", "percent") == "percent" and not 0 < value <= 100:
        problems.append("a percent value must be above 0 and at most 100")
    valid_days = config.get("valid_days", 30)
    if (
        not isinstance(valid_days, int)
        or isinstance(valid_days, bool)
        or valid_days < 1
    ):
        problems.append("valid_days must be a whole number of 1 or more")
    if not isinstance(config.get("prefix", ""), str):
        problems.append("prefix must be a string")
    return [
        Error(
            f"OMNICHANNEL['VIP_COUPON']: {problem}.",
            hint='For example {"kind": "percent", "value": "10", "valid_days": 30, '
            '"prefix": "VIP"}.',
            id="omnichannel.E044",
        )
        for problem in problems
    ]


def _check_reply_sender() -> list[Any]:
    from omnichannel.conversations.replies import ReplySender

    path = app_settings.CONVERSATION_REPLY_SENDER
    try:
        sender_class = import_string(path)
    except (ImportError, TypeError, ValueError) as error:
        return [
            Error(
                f"OMNICHANNEL['CONVERSATION_REPLY_SENDER'] = {path!r} cannot be "
                f"imported: {error}",
                hint=SENDER_HINT,
                id="omnichannel.E045",
            )
        ]
    if not (isinstance(sender_class, type) and issubclass(sender_class, ReplySender)):
        return [
            Error(
                f"OMNICHANNEL['CONVERSATION_REPLY_SENDER'] = {path!r} is not a "
                "ReplySender subclass.",
                hint=SENDER_HINT,
                id="omnichannel.E045",
            )
        ]
    return []


def _check_secret() -> list[Any]:
    secret = app_settings.INBOUND_WEBHOOK_SECRET
    if secret is None:
        return []
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        return [
            Warning(
                f"OMNICHANNEL['INBOUND_WEBHOOK_SECRET'] is shorter than "
                f"{MIN_SECRET_LENGTH} characters, so it can be guessed.",
                hint="Generate one with python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'.",
                id="omnichannel.W040",
            )
        ]
    return []


def _check_htmx() -> list[Any]:
    from django.apps import apps

    middleware = "django_htmx.middleware.HtmxMiddleware"
    if apps.is_installed("django_htmx") and middleware in settings.MIDDLEWARE:
        return []
    return [
        Warning(
            "django_htmx is not in INSTALLED_APPS or its middleware is not in "
            "MIDDLEWARE, so the agent console cannot work.",
            hint="Add 'django_htmx' to INSTALLED_APPS and "
            "django_htmx.middleware.HtmxMiddleware to MIDDLEWARE.",
            id="omnichannel.W042",
        )
    ]
