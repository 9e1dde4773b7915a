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
    # Page and product views: regexes matched against request.path. Named groups
    # become event properties, for example r"^/products/(?P<slug>[-\w]+)/$".
    "TRACK_PRODUCT_PATHS": [],
    "TRACK_CATEGORY_PATHS": [],
    # Event retention: event name (or "*" for every other name) -> timedelta, or
    # None to keep forever. Order events are never deleted.
    "EVENT_RETENTION": {
        "page_viewed": timedelta(days=395),
        "category_viewed": timedelta(days=395),
        "product_viewed": timedelta(days=395),
        "searched": timedelta(days=395),
    },
    # REST API
    "API_MAX_BATCH_SIZE": 1000,
    "API_MAX_REQUEST_BYTES": 4 * 1024 * 1024,
    # Consent
    "UNSUBSCRIBE_MAILTO": None,
    "DOUBLE_OPT_IN_MAX_AGE": timedelta(days=7),
    "DOUBLE_OPT_IN_FROM_EMAIL": None,
    "SMS_STOP_KEYWORDS": [
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "OPTOUT",
        "OPT OUT",
        "REVOKE",
    ],
    "SMS_START_KEYWORDS": ["START", "UNSTOP", "YES", "OPTIN", "OPT IN"],
    # GDPR erasure keeps these event properties, which describe products, not people.
    "ERASURE_KEEP_EVENT_PROPERTIES": [
        "sku",
        "product_id",
        "category",
        "quantity",
        "unit_price",
        "lines",
    ],
    # RFM
    "RFM_GROUP_RULES": None,
    # Journeys
    "QUIET_HOURS_CHANNELS": ["sms", "push", "webpush", "whatsapp"],
    "STAFF_NOTIFICATION_EMAILS": [],
    "ENGINE_BATCH_SIZE": 200,
    # Analytics
    "ATTRIBUTION_WINDOW": timedelta(days=5),
    "JOURNEY_CONVERSION_WINDOW": timedelta(days=7),
    "CART_RECOVERY_WINDOW": timedelta(days=7),
    "LIFECYCLE_DROP_OFF_AFTER": timedelta(days=30),
    "LIFECYCLE_LAPSE_AFTER": timedelta(days=180),
    "ANALYTICS_CACHE_SECONDS": 600,
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
