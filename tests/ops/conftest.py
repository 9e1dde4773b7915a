import pytest
from django.contrib.auth import get_user_model

from omnichannel.channels.backends import locmem

TOKEN = "monitoring-token-for-tests-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_outbox():
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def token(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "MONITORING_TOKEN": TOKEN}
    return TOKEN


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_user(
        "ops", "ops@shop.example", "password", is_staff=True
    )
    client.force_login(user)
    return client


@pytest.fixture
def celery_not_eager():
    """Make health checks treat Celery as a real broker setup, then restore."""
    from celery import current_app

    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    yield current_app
    current_app.conf.task_always_eager = previous
