"""The example project's settings under different environments.

Each case imports the settings in a fresh interpreter, because they are read from
environment variables once, at import.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from example_project import settings as project_settings
from example_project.settings import module_exists

PROJECT_DIR = Path(__file__).resolve().parents[2] / "example_project"

PRINT_SETTINGS = """
import json
from django.conf import settings
print(json.dumps({
    "eager": getattr(settings, "CELERY_TASK_ALWAYS_EAGER", None),
    "broker": settings.CELERY_BROKER_URL,
    "result_backend": settings.CELERY_RESULT_BACKEND,
    "beat_scheduler": settings.CELERY_BEAT_SCHEDULER,
    "email_backend": settings.EMAIL_BACKEND,
    "debug": settings.DEBUG,
    "database_engine": settings.DATABASES["default"]["ENGINE"],
    "database_name": str(settings.DATABASES["default"]["NAME"]),
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "routes": getattr(settings, "CELERY_TASK_ROUTES", None),
    "beat": sorted(getattr(settings, "CELERY_BEAT_SCHEDULE", {})),
    "log_formatters": sorted(settings.LOGGING.get("formatters", {})),
}))
"""


def load_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"OMNICHANNEL_MODE", "DATABASE_URL", "ALLOWED_HOSTS"}
    }
    environment.update(env, DJANGO_SETTINGS_MODULE="example_project.settings")
    # The checkout's own omnichannel package, not an installed copy.
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT_DIR), str(PROJECT_DIR.parent)]
    )
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_embedded_by_default():
    result = load_settings()

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["eager"] is True
    assert values["broker"] == "memory://"
    assert values["email_backend"] == "django.core.mail.backends.console.EmailBackend"
    assert values["debug"] is True
    assert values["database_engine"] == "django.db.backends.sqlite3"
    assert values["database_name"] == str(PROJECT_DIR / "db.sqlite3")
    assert values["allowed_hosts"] == ["127.0.0.1", "localhost", "testserver"]


def test_settings_production_mode():
    result = load_settings(
        OMNICHANNEL_MODE="production",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/shop",
        ALLOWED_HOSTS="shop.example, www.shop.example ,",
    )

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["eager"] is False
    assert values["broker"] == "redis://127.0.0.1:6379/0"
    assert values["result_backend"] is None
    assert values["beat_scheduler"] == "django_celery_beat.schedulers:DatabaseScheduler"
    assert values["debug"] is False
    assert values["database_engine"] == "django.db.backends.postgresql"
    assert values["database_name"] == "shop"
    assert values["allowed_hosts"] == ["shop.example", "www.shop.example"]
    assert values["routes"]["omnichannel.channels.*"] == {"queue": "omnichannel-send"}
    assert values["routes"]["omnichannel.segments.*"] == {
        "queue": "omnichannel-segments"
    }
    assert values["routes"]["omnichannel.predictions.*"] == {
        "queue": "omnichannel-models"
    }
    assert "omnichannel-journeys-tick" in values["beat"]
    assert "omnichannel-heartbeat" in values["beat"]
    assert "omnichannel-outbox-sweep" in values["beat"]
    assert values["log_formatters"] == ["json"]


def test_settings_production_mode_rejects_sqlite():
    result = load_settings(
        OMNICHANNEL_MODE="production", DATABASE_URL="sqlite:////tmp/shop.sqlite3"
    )

    assert result.returncode != 0
    assert "OMNICHANNEL_MODE=production needs PostgreSQL" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OMNICHANNEL_MODE": "cloud"}, "OMNICHANNEL_MODE='cloud' is not supported"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG='maybe' is not a yes/no value"),
    ],
)
def test_settings_invalid_environment_rejected(env, message):
    result = load_settings(**env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_settings_omnichannel_only_when_importable():
    installed = "omnichannel" in project_settings.INSTALLED_APPS

    assert installed == module_exists("omnichannel.apps")


def test_module_exists_missing_parent():
    assert module_exists("no_such_package.apps") is False
    assert module_exists("shop.models") is True


def test_settings_omnichannel_dict():
    omnichannel = project_settings.OMNICHANNEL
    assert omnichannel["DEFAULT_CURRENCY"] == "EUR"
    assert omnichannel["DEFAULT_PHONE_REGION"] == "DE"
    assert omnichannel["SHOP_ADAPTERS"] == {
        "shop.Order": "shop.omnichannel_adapters.OrderAdapter",
        "shop.Cart": "shop.omnichannel_adapters.CartAdapter",
    }


def test_celery_app_reads_django_settings():
    from example_project import celery_app

    assert celery_app.main == "example_project"
    assert celery_app.conf.task_always_eager == settings.CELERY_TASK_ALWAYS_EAGER


FAKE_OMNICHANNEL = {
    "omnichannel/__init__.py": "",
    # Without its own models and admin modules, Django would import the installed
    # app's through the editable install's finder.
    "omnichannel/models.py": "",
    "omnichannel/admin.py": "",
    "omnichannel/apps.py": (
        "from django.apps import AppConfig\n\n\n"
        "class OmnichannelConfig(AppConfig):\n"
        '    name = "omnichannel"\n'
    ),
    "omnichannel/urls.py": (
        "from django.http import HttpResponse\n"
        "from django.urls import path\n\n"
        'urlpatterns = [path("ping/", lambda request: HttpResponse("pong"))]\n'
    ),
    "omnichannel/middleware.py": (
        "class OmnichannelMiddleware:\n"
        "    def __init__(self, get_response):\n"
        "        self.get_response = get_response\n\n"
        "    def __call__(self, request):\n"
        "        return self.get_response(request)\n"
    ),
    "omnichannel/personalisation/__init__.py": "",
    "omnichannel/personalisation/context_processors.py": (
        "def omnichannel(request):\n    return {}\n"
    ),
}

PRINT_WIRING = """
import json
import django
from django.conf import settings
from django.urls import resolve

django.setup()
print(json.dumps({
    "installed": "omnichannel" in settings.INSTALLED_APPS,
    "middleware": settings.MIDDLEWARE,
    "context_processors": settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
    "ping_view": resolve("/omnichannel/ping/").route,
}))
"""


def test_settings_wire_omnichannel_when_present(tmp_path):
    for relative_path, source in FAKE_OMNICHANNEL.items():
        path = tmp_path / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    environment = {
        key: value for key, value in os.environ.items() if key != "OMNICHANNEL_MODE"
    }
    environment["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    environment["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{PROJECT_DIR}"

    result = subprocess.run(
        [sys.executable, "-c", PRINT_WIRING],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["installed"] is True
    middleware = values["middleware"]
    position = middleware.index("omnichannel.middleware.OmnichannelMiddleware")
    assert position == (
        middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
    )
    assert "django_htmx.middleware.HtmxMiddleware" in middleware
    assert (
        "omnichannel.personalisation.context_processors.omnichannel"
        in values["context_processors"]
    )
    assert values["ping_view"] == "omnichannel/ping/"
