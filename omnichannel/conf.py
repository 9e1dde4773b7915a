"""Settings of the app, read from the ``OMNICHANNEL`` dict in the project's settings.

Every value is looked up when it is used, so ``override_settings`` works in tests.
Defaults and types are documented in ``docs/settings.md``; ``omnichannel.checks``
validates them at start-up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Profiles and identity
    "DEFAULT_CURRENCY": "EUR",
    "DEFAULT_PHONE_REGION": None,
    "DEFAULT_TIME_ZONE": None,
    "VISITOR_COOKIE_NAME": "omni_vid",
    "VISITOR_COOKIE_AGE": timedelta(days=365),
    "BLOCKED_IDENTIFIERS": [
        "null",
        "none",
        "undefined",
        "test@test.com",
        "test@example.com",
        "noemail@noemail.com",
    ],
    "MAX_IDENTITIES_PER_KIND": 1,
    "EXTRA_EVENT_TYPES": [],
    # Shop adapters: model label -> dotted path of a ShopAdapter subclass.
    "SHOP_ADAPTERS": {},
    # Public address of the site, used in links inside messages.
    "SITE_URL": "http://127.0.0.1:8000",
    # Page views recorded by the middleware.
    "TRACK_PAGE_VIEWS": True,
    "TRACK_PATHS_EXCLUDE": [r"^/admin/", r"^/static/", r"^/media/", r"^/favicon\.ico$"],
    "BOT_USER_AGENTS": [
        "bot",
        "crawler",
        "spider",
        "slurp",
        "headless",
        "preview",
        "monitor",
    ],
    # RFM
    "RFM_GROUP_RULES": None,
    # Journeys
    "QUIET_HOURS_CHANNELS": ["sms", "push", "webpush", "whatsapp"],
    "STAFF_NOTIFICATION_EMAILS": [],
    "ENGINE_BATCH_SIZE": 200,
    # Conversations
    "PAUSE_MARKETING_DURING_CONVERSATION": True,
    "CONVERSATION_BOT": "omnichannel.conversations.bots.faq.FaqBot",
    "CONVERSATION_BOT_CHANNELS": ["chat"],
    "CONVERSATION_HANDOVER_KEYWORDS": ["human", "agent", "person", "operator"],
    "CONVERSATION_IDLE_TIMEOUT": timedelta(hours=48),
    "CONVERSATION_REPLY_SENDER": "omnichannel.conversations.replies.ReplySender",
    "CONVERSATION_REPLY_FROM_EMAIL": None,
    "CHAT_MESSAGE_MAX_LENGTH": 2000,
    "INBOUND_MESSAGE_MAX_LENGTH": 20000,
    "CHAT_RATE_LIMITS": {
        "start": {"visitor": "5/hour", "ip": "30/hour"},
        "message": {"visitor": "20/min", "ip": "60/min"},
        "read": {"visitor": "120/min", "ip": "600/min"},
    },
    "CHAT_RATE_LIMIT_CACHE": "default",
    "CHAT_STREAM_SECONDS": 25,
    "CHAT_POLL_SECONDS": 3,
    "INBOUND_WEBHOOK_SECRET": None,
    "VIP_RFM_GROUPS": ["champions", "loyal", "cant_lose"],
    "VIP_SEGMENTS": ["vip"],
    "VIP_MIN_LIFETIME_VALUE": None,
    "VIP_COUPON": {"kind": "percent", "value": "10", "valid_days": 30, "prefix": "VIP"},
    "VIP_THANK_YOU_DAYS": 30,
}


class AppSettings:
    """Attribute access to the ``OMNICHANNEL`` settings dict with defaults."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self._defaults = defaults

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "OMNICHANNEL", {}) or {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"'{name}' is not an OMNICHANNEL setting")
        return self.user_settings.get(name, self._defaults[name])

    def import_path(self, name: str) -> Any:
        """Import the object named by the dotted path in setting ``name``."""
        return _import_cached(getattr(self, name))


_import_cache: dict[str, Any] = {}


def _import_cached(path: str) -> Any:
    if path not in _import_cache:
        _import_cache[path] = import_string(path)
    return _import_cache[path]


@receiver(setting_changed)
def _clear_import_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == "OMNICHANNEL":
        _import_cache.clear()


app_settings = AppSettings(DEFAULTS)
