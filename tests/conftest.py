import os
from pathlib import Path

import pytest
from django.apps import apps

# Browser fixtures (chrome, chrome_factory) for any test that needs them.
from tests.browser import chrome, chrome_factory  # noqa: F401
from tests.celery_app import app as celery_app  # noqa: F401


@pytest.fixture(autouse=True)
def _empty_rate_limits():
    """Start each test with no request counted against the public rate limits."""
    from django.conf import settings
    from django.core.cache import caches

    if "public_rate_limits" in settings.CACHES:
        caches["public_rate_limits"].clear()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on_commit callbacks of the block at its end, as a real commit would."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


OSCAR_TESTS = Path(__file__).parent / "integration" / "oscar"


def pytest_ignore_collect(collection_path, config):
    """Collect the django-oscar tests only in the run with the Oscar settings.

    That run is ``pytest --ds=tests.integration.oscar_settings tests/integration/oscar``
    (``make test-oscar``); the main settings do not install Oscar.
    """
    if collection_path == OSCAR_TESTS:
        return not apps.is_installed("oscar")
    return None


# HYPOTHESIS_PROFILE picks a profile: "dev" reports failures without the slow
# shrinking phase, and "ci" (set by the Makefile) draws the same examples on every
# run, so a test run is repeatable. Without it, each run draws new examples.
from hypothesis import Phase, settings  # noqa: E402

settings.register_profile(
    "dev", phases=[Phase.explicit, Phase.generate], print_blob=True
)
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
