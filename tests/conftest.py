import pytest
from celery import current_app

# Browser fixtures (chrome, chrome_factory) for any test that needs them.
from tests.browser import chrome, chrome_factory  # noqa: F401

# Tasks run eagerly with the CELERY_* test settings; without this the default app
# would publish them to a broker on localhost.
current_app.config_from_object("django.conf:settings", namespace="CELERY")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on_commit callbacks of the block at its end, as a real commit would."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
