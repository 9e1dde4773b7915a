"""System checks of the conversation settings."""

from datetime import timedelta

import pytest

from omnichannel.conversations.checks import check_conversation_settings


def _ids(errors):
    return sorted(error.id for error in errors)


def test_defaults_pass():
    assert check_conversation_settings() == []


def test_missing_middleware_is_e040(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if "OmnichannelMiddleware" not in m
    ]

    assert _ids(check_conversation_settings()) == ["omnichannel.E040"]


@pytest.mark.parametrize(
    "value", ["no.such.Bot", "omnichannel.conversations.models.Message", 42]
)
def test_bad_bot_is_e041(omnichannel_settings, value):
    omnichannel_settings(CONVERSATION_BOT=value)

    assert _ids(check_conversation_settings()) == ["omnichannel.E041"]


def test_no_bot_passes(omnichannel_settings):
    omnichannel_settings(CONVERSATION_BOT=None)

    assert check_conversation_settings() == []


@pytest.mark.parametrize(
    "limits",
    [
        {"message": {"visitor": "20 per minute"}},
        {"message": {"visitor": "0/min"}},
        {"message": {"browser": "20/min"}},
        {"typing": {"visitor": "20/min"}},
        {"message": "20/min"},
    ],
)
def test_bad_rate_limits_are_e042(omnichannel_settings, limits):
    omnichannel_settings(CHAT_RATE_LIMITS=limits)

    assert _ids(check_conversation_settings()) == ["omnichannel.E042"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHAT_MESSAGE_MAX_LENGTH", 0),
        ("CHAT_MESSAGE_MAX_LENGTH", "2000"),
        ("CHAT_MESSAGE_MAX_LENGTH", True),
        ("CONVERSATION_IDLE_TIMEOUT", 3600),
        ("PAUSE_MARKETING_DURING_CONVERSATION", "yes"),
        ("CHAT_STREAM_SECONDS", -1),
        ("VIP_MIN_LIFETIME_VALUE", "lots"),
        ("VIP_SEGMENTS", "vip"),
    ],
)
def test_bad_types_are_e043(omnichannel_settings, name, value):
    omnichannel_settings(**{name: value})

    assert _ids(check_conversation_settings()) == ["omnichannel.E043"]


@pytest.mark.parametrize(
    "coupon",
    [
        {"kind": "bogof"},
        {"kind": "percent", "value": "150"},
        {"kind": "amount", "value": "-5"},
        {"valid_days": 0},
        {"prefix": 7},
    ],
)
def test_bad_coupon_is_e044(omnichannel_settings, coupon):
    omnichannel_settings(VIP_COUPON=coupon)

    assert _ids(check_conversation_settings()) == ["omnichannel.E044"]


def test_bad_reply_sender_is_e045(omnichannel_settings):
    omnichannel_settings(CONVERSATION_REPLY_SENDER="omnichannel.conf.AppSettings")

    assert _ids(check_conversation_settings()) == ["omnichannel.E045"]


def test_unknown_cache_is_e046(omnichannel_settings):
    omnichannel_settings(CHAT_RATE_LIMIT_CACHE="ratelimits")

    assert _ids(check_conversation_settings()) == ["omnichannel.E046"]


def test_short_webhook_secret_is_w040(omnichannel_settings):
    omnichannel_settings(INBOUND_WEBHOOK_SECRET="short")

    assert _ids(check_conversation_settings()) == ["omnichannel.W040"]


def test_dummy_cache_is_w041(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    }

    assert _ids(check_conversation_settings()) == ["omnichannel.W041"]


def test_missing_htmx_is_w042(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m]

    assert _ids(check_conversation_settings()) == ["omnichannel.W042"]


def test_idle_timeout_accepts_timedelta(omnichannel_settings):
    omnichannel_settings(CONVERSATION_IDLE_TIMEOUT=timedelta(hours=2))

    assert check_conversation_settings() == []
