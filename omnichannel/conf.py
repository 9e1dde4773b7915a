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
    # "log": an adapter error is logged and the shop's write kept; "raise": it
    # propagates and fails the shop's save.
    "SHOP_ADAPTER_ERRORS": "log",
    # A cart with no change for this long is reported as abandoned ...
    "CART_ABANDONED_AFTER": timedelta(hours=1),
    # ... unless its last change is older than this.
    "CART_ABANDONED_MAX_AGE": timedelta(days=7),
    # django-oscar order statuses that mean paid, cancelled or refunded.
    "OSCAR_ORDER_STATUSES": {
        "paid": [],
        "cancelled": ["Cancelled"],
        "refunded": ["Refunded"],
    },
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
        # Command-line tools and HTTP libraries: scripts and health checks, which
        # would otherwise create a profile per request, as they keep no cookie.
        "curl/",
        "wget/",
        "python-",
        "go-http-client",
        "okhttp",
        "java/",
        "libwww-perl",
        "httpie",
        "postmanruntime",
        "node-fetch",
        "axios/",
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
    # Rate limits of public endpoints: scope -> "count/period" or None for none,
    # counted per API key (REST views with a key) or per client IP address.
    "RATE_LIMITS": {
        "events": "1200/min",
        "identify": "300/min",
        "api": "300/min",
        "tracking": "1200/min",
        # Mailbox providers send one-click unsubscribes from few addresses.
        "consent_pages": "300/min",
        "widget": "120/min",
        "inbound": "600/min",
    },
    "RATE_LIMIT_CACHE": "default",
    # Outbound webhooks: hosts, IP addresses or networks (CIDR) that may be
    # reached even though they are private, loopback or link-local.
    "WEBHOOK_ALLOWED_HOSTS": [],
    # Consent (UNSUBSCRIBE_MAILTO is with the channel settings below)
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
    # Channels: channel name -> {"BACKEND": dotted path, "OPTIONS": {...}}. Channels
    # left out use the defaults in omnichannel.channels.registry.DEFAULT_BACKENDS.
    "CHANNEL_BACKENDS": {},
    # Callables (delivery, now) -> (until, reason) or None, asked before each
    # marketing send; the first answer defers the message.
    "SEND_PAUSES": ["omnichannel.conversations.services.pause_during_conversation"],
    # Sender address of marketing email; None uses settings.DEFAULT_FROM_EMAIL.
    "EMAIL_FROM": None,
    # Address that receives mailto unsubscribe requests; None leaves it out.
    "UNSUBSCRIBE_MAILTO": None,
    # UTM tags added to links that point at SITE_URL's host or at these hosts.
    "UTM_SOURCE": "omnichannel",
    "UTM_DOMAINS": [],
    # Line added to marketing SMS that do not already carry an opt-out word.
    "SMS_STOP_TEXT": "STOP to opt out",
    # Quiet hours in the recipient's zone, ("21:00", "09:00"), or None.
    "QUIET_HOURS": None,
    # Channel -> (maximum messages, period), counted over every journey and campaign.
    "FREQUENCY_CAPS": {},
    # Retries of provider errors: attempts in total and the first back-off, doubled
    # on each attempt up to DELIVERY_RETRY_MAX_DELAY.
    "DELIVERY_MAX_ATTEMPTS": 5,
    "DELIVERY_RETRY_DELAY": timedelta(minutes=1),
    "DELIVERY_RETRY_MAX_DELAY": timedelta(hours=6),
    # A delivery left in "sending" this long (a worker died mid-send) is failed.
    "DELIVERY_SENDING_TIMEOUT": timedelta(minutes=15),
    # A pending delivery younger than this is left to the task queued when it was
    # created; older ones are queued again by the outbox sweep.
    "DELIVERY_PENDING_GRACE": timedelta(minutes=1),
    # Recommendations in messages.
    "RECOMMENDER": "omnichannel.channels.recommendations.EventLogRecommender",
    "RECOMMENDATION_WINDOW": timedelta(days=90),
    # Predictions (BG/NBD, Gamma-Gamma, send time, channel affinity)
    "PREDICTIONS_AT_RISK_FROM": 0.5,
    "PREDICTIONS_CHURNING_FROM": 0.8,
    "PREDICTIONS_CHURN_RISK_THRESHOLDS": [0.5, 0.8],
    "PREDICTIONS_ANNUAL_DISCOUNT_RATE": 0.1,
    "PREDICTIONS_MIN_CUSTOMERS": 100,
    "PREDICTIONS_MIN_REPEAT_CUSTOMERS": 20,
    "PREDICTIONS_PENALIZER": 0.0,
    "PREDICTIONS_BATCH_SIZE": 5000,
    "PREDICTIONS_ENGAGEMENT_DAYS": 365,
    "PREDICTIONS_SEND_TIME_PRIOR_STRENGTH": None,
    "PREDICTIONS_FIT_SCHEDULE": "0 2 * * 0",
    "PREDICTIONS_SCORE_SCHEDULE": "30 2 * * *",
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
    # Offers
    "OFFER_CODE_LENGTH": 10,
    "OFFER_CODE_CHECKS_PER_IP": 20,
    "OFFER_CODE_CHECKS_PER_PROFILE": 10,
    "OFFER_CODE_CHECK_WINDOW": timedelta(minutes=10),
    "OFFER_RATE_LIMIT_CACHE": "default",
    # Ad platform audiences: platform key -> options, each with a "BACKEND" path.
    "AUDIENCE_PLATFORMS": {},
    "AUDIENCE_SYNC_INTERVAL": timedelta(hours=6),
    "AUDIENCE_SYNC_DELAY_AFTER_CHANGE": timedelta(minutes=15),
    "AUDIENCE_SYNC_LOCK_TIMEOUT": timedelta(minutes=30),
    "AUDIENCE_HTTP_TIMEOUT": timedelta(seconds=60),
    "AUDIENCE_RETRY_MAX_ATTEMPTS": 5,
    "AUDIENCE_RETRY_BASE_DELAY": timedelta(seconds=2),
    "AUDIENCE_RETRY_MAX_DELAY": timedelta(minutes=2),
    # Segments: the longest a live count in the admin rule builder may take.
    "SEGMENT_PREVIEW_TIMEOUT": timedelta(seconds=5),
    # Personalisation: how long the list of banners is kept in Django's default
    # cache. Saving a banner or placement clears it, and zero reads it from the
    # database on every page.
    "PERSONALISATION_CACHE_TIMEOUT": timedelta(minutes=5),
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
    # AI assistant: the model endpoint and its limits. Keys left out take the
    # values of omnichannel.assistant.settings.ASSISTANT_DEFAULTS; with no
    # BASE_URL every feature works without a model.
    "ASSISTANT": {},
    # Operations: the bearer token that unlocks health details and /metrics (None:
    # staff sessions only), and the limits beyond which the health check fails.
    "MONITORING_TOKEN": None,
    "HEALTH_HEARTBEAT_MAX_AGE": timedelta(minutes=2),
    "HEALTH_MAX_DUE_AGE": timedelta(minutes=5),
    "HEALTH_BROKER_TIMEOUT": timedelta(seconds=2),
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


def import_object(path: str) -> Any:
    """Import the object at a dotted path once and return it from a cache after."""
    return _import_cached(path)


def _import_cached(path: str) -> Any:
    if path not in _import_cache:
        _import_cache[path] = import_string(path)
    return _import_cache[path]


@receiver(setting_changed)
def _clear_import_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == "OMNICHANNEL":
        _import_cache.clear()


app_settings = AppSettings(DEFAULTS)
