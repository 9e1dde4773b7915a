"""Settings of the example shop, read from environment variables.

OMNICHANNEL_MODE selects how background work runs:

- ``embedded`` (default): Celery runs every task inline (``task_always_eager``), so
  the shop needs no broker, and email goes to the console.
- ``production``: PostgreSQL (DATABASE_URL), tasks go to the broker in
  CELERY_BROKER_URL on three queues (sending, segment work, model work), celery
  beat reads its schedule from the database (django-celery-beat), and logs are
  JSON lines with the ids involved. See docs/production.md and the Procfile.

The ``omnichannel`` app, its URLs, middleware and context processor are added only when
their modules can be imported, so the shop also runs on its own.
"""

import importlib.util
import os
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable such as ``1``, ``true`` or ``off``."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    value = value.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={value!r} is not a yes/no value. "
        "Use 1, true, yes, on, 0, false, no or off."
    )


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable, dropping empty items."""
    items = os.environ.get(name, default).split(",")
    return [item.strip() for item in items if item.strip()]


def module_exists(name: str) -> bool:
    """Return whether ``name`` can be imported, without importing the module itself."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        # A missing parent package raises instead of returning None.
        return False


OMNICHANNEL_MODE = os.environ.get("OMNICHANNEL_MODE", "embedded").strip().lower()
if OMNICHANNEL_MODE not in {"embedded", "production"}:
    raise ImproperlyConfigured(
        f"OMNICHANNEL_MODE={OMNICHANNEL_MODE!r} is not supported. "
        "Set it to 'embedded' (no broker, tasks run inline) or 'production'."
    )
EMBEDDED = OMNICHANNEL_MODE == "embedded"

HAS_OMNICHANNEL = module_exists("omnichannel.apps")
HAS_OMNICHANNEL_OPS = module_exists("omnichannel.ops.schedule")

SECRET_KEY = os.environ.get(
    "SECRET_KEY",
    "django-insecure-example-shop-development-key-do-not-use-in-production",
)
DEBUG = env_bool("DJANGO_DEBUG", default=EMBEDDED)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "django_htmx",
    "shop",
]
if HAS_OMNICHANNEL:
    INSTALLED_APPS.append("omnichannel")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
if module_exists("omnichannel.middleware"):
    MIDDLEWARE.append("omnichannel.middleware.OmnichannelMiddleware")
MIDDLEWARE += [
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
]
if module_exists("omnichannel.personalisation.context_processors"):
    CONTEXT_PROCESSORS.append(
        "omnichannel.personalisation.context_processors.omnichannel"
    )

ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": CONTEXT_PROCESSORS},
    },
]
WSGI_APPLICATION = "example_project.wsgi.application"
ASGI_APPLICATION = "example_project.asgi.application"

# DATABASE_URL examples: sqlite:////abs/path/db.sqlite3,
# postgres://postgres@127.0.0.1:5432/shop
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0" if EMBEDDED else "60")),
        conn_health_checks=True,
    )
}
if not EMBEDDED and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured(
        "OMNICHANNEL_MODE=production needs PostgreSQL, because workers on several "
        "processes claim due work with SELECT ... FOR UPDATE SKIP LOCKED. Set "
        "DATABASE_URL=postgres://USER@HOST:5432/NAME."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two checkouts
    # cannot both read a single-use discount code as unused under runserver threads.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
if os.environ.get("DATABASE_TEST_NAME"):
    # Lets several people share one PostgreSQL server without test database clashes.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "shop:login"
LOGIN_REDIRECT_URL = "shop:account"
LOGOUT_REDIRECT_URL = "shop:home"

LANGUAGE_CODE = "en"
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))

if EMBEDDED:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = os.environ.get(
        "EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
    )
    EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "shop@example.com")

# Celery, read by example_project/celery.py through the CELERY_ namespace.
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_RESULT_BACKEND = None
if EMBEDDED:
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
    CELERY_BROKER_URL = "memory://"
else:
    CELERY_TASK_ALWAYS_EAGER = False
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    # One message per worker process at a time, acknowledged after the task ran:
    # a task of a worker that dies goes back to the queue instead of being lost.
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    CELERY_TASK_ACKS_LATE = True
    CELERY_TASK_REJECT_ON_WORKER_LOST = True
    CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
    if HAS_OMNICHANNEL_OPS:
        from omnichannel.ops.routing import task_routes

        # omnichannel-send, omnichannel-segments and omnichannel-models; the shop's
        # own tasks stay on the default "celery" queue.
        CELERY_TASK_ROUTES = task_routes()

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {
    "TITLE": "Example shop API",
    "VERSION": "0.1.0",
    # The app's enum names, so that its two "channel" choice sets do not collide.
    "ENUM_NAME_OVERRIDES": {
        "MessageChannelEnum": "omnichannel.channels.models.MessageChannel",
        "ConversationChannelEnum": (
            "omnichannel.conversations.models.ConversationChannel"
        ),
        "CopyKindEnum": "omnichannel.assistant.copywriting.COPY_KINDS",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # The embedded demo shows warnings only, so its summary is not buried under
    # one line per batch of events and per eager task; LOG_LEVEL=INFO shows them.
    "root": {
        "handlers": ["console"],
        "level": os.environ.get("LOG_LEVEL", "WARNING" if EMBEDDED else "INFO"),
    },
}
if not EMBEDDED and HAS_OMNICHANNEL_OPS:
    # One JSON object per line, with profile_id, journey_id, enrollment_id,
    # delivery_id and step whenever the engine or the outbox logs.
    LOGGING["filters"] = {"ids": {"()": "omnichannel.ops.logcontext.LogIdsFilter"}}
    LOGGING["formatters"] = {"json": {"()": "omnichannel.ops.logcontext.JSONFormatter"}}
    LOGGING["handlers"]["console"].update(filters=["ids"], formatter="json")

# The shop's own prices: a flat shipping fee, waived from a basket value upwards.
SHOP_SHIPPING_FEE = Decimal(os.environ.get("SHOP_SHIPPING_FEE", "4.90"))
SHOP_FREE_SHIPPING_THRESHOLD = Decimal(
    os.environ.get("SHOP_FREE_SHIPPING_THRESHOLD", "50.00")
)

# An OpenAI-compatible model for the assistant, such as http://127.0.0.1:11434/v1
# for a local Ollama; without it the assistant works without a model.
MODEL_URL = os.environ.get("OMNICHANNEL_MODEL_URL") or None

OMNICHANNEL = {
    "DEFAULT_CURRENCY": "EUR",
    "DEFAULT_PHONE_REGION": "DE",
    "SITE_URL": os.environ.get("SITE_URL", "http://127.0.0.1:8000"),
    "UNSUBSCRIBE_MAILTO": os.environ.get(
        "UNSUBSCRIBE_MAILTO", "unsubscribe@shop.example"
    ),
    "TRACK_PRODUCT_PATHS": [r"^/products/(?P<slug>[-\w]+)/$"],
    "TRACK_CATEGORY_PATHS": [r"^/categories/(?P<category>[-\w]+)/$"],
    "SHOP_ADAPTERS": {
        "shop.Order": "shop.omnichannel_adapters.OrderAdapter",
        "shop.Cart": "shop.omnichannel_adapters.CartAdapter",
    },
    # The chat bot replies from the FAQ and the customer's own orders.
    "CONVERSATION_BOT": "omnichannel.assistant.bot.AssistantBot",
    "ASSISTANT": {
        "BASE_URL": MODEL_URL,
        "MODEL": os.environ.get("OMNICHANNEL_MODEL", "llama3.1") if MODEL_URL else "",
        "BRAND_VOICE": "Friendly, brief and plain, with no exclamation marks.",
    },
    # Unlocks the health details and /omnichannel/metrics/ for a monitor that
    # sends "Authorization: Bearer <token>"; staff sessions need none.
    "MONITORING_TOKEN": os.environ.get("OMNICHANNEL_MONITORING_TOKEN") or None,
}

if not EMBEDDED and HAS_OMNICHANNEL_OPS:
    from omnichannel.schedule import beat_schedule

    # Every periodic task of the app: the journey tick, the outbox sweep, the
    # heartbeat, segment rebuilds, predictions, audience syncs and the rest.
    CELERY_BEAT_SCHEDULE = beat_schedule(OMNICHANNEL)
