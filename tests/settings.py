"""Test settings: SQLite by default, PostgreSQL when DATABASE_URL is set."""

import importlib.util
import os

import dj_database_url

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "tests-only-secret-key-not-for-production-use-0123456789"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Berlin"
LANGUAGE_CODE = "en"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STATIC_URL = "/static/"

HAS_SHOP = importlib.util.find_spec("shop") is not None

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
    "omnichannel",
    # A hand-made shop of a few models for the generic adapter tests.
    "tests.integrations.handmade",
]
if HAS_SHOP:
    INSTALLED_APPS.append("shop")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "omnichannel.middleware.OmnichannelMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_suffix = os.environ.get("OMNICHANNEL_TEST_DB_SUFFIX", "")
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    DATABASES["default"]["TEST"] = {
        "NAME": "test_omnichannel" + (f"_{_suffix}" if _suffix else "")
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(BASE_DIR, "tests", "test.sqlite3"),
            "TEST": {"NAME": ""},
        }
    }

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # The public endpoints' rate limits; tests/conftest.py empties it per test.
    "public_rate_limits": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "public_rate_limits",
    },
}

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "MessageChannelEnum": "omnichannel.channels.models.MessageChannel",
        "ConversationChannelEnum": (
            "omnichannel.conversations.models.ConversationChannel"
        ),
        "CopyKindEnum": "omnichannel.assistant.copywriting.COPY_KINDS",
    }
}

OMNICHANNEL = {
    "DEFAULT_CURRENCY": "EUR",
    "SITE_URL": "https://shop.example",
    "UNSUBSCRIBE_MAILTO": "unsubscribe@shop.example",
    "RATE_LIMIT_CACHE": "public_rate_limits",
}
if HAS_SHOP:
    OMNICHANNEL["SHOP_ADAPTERS"] = {
        "shop.Order": "shop.omnichannel_adapters.OrderAdapter",
        "shop.Cart": "shop.omnichannel_adapters.CartAdapter",
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"omnichannel": {"handlers": ["null"], "propagate": False}},
}
