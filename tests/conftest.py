import pytest

from tests.celery_app import app as celery_app  # noqa: F401


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on_commit callbacks of the block at its end, as a real commit would."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
