import json
from datetime import timedelta

import pytest
from celery import current_app
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from omnichannel.audiences.platforms.base import AdPlatform
from tests.audiences.fakes import FakeGoogle, FakeMeta

META_TOKEN = "meta-system-user-token-7f3a9c"
META_APP_SECRET = "meta-app-secret-91be"
CLIENT_EMAIL = "audience-sync@shop-project.iam.gserviceaccount.com"


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def meta_server():
    server = FakeMeta(token=META_TOKEN, app_secret=META_APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def google_server(rsa_key):
    server = FakeGoogle(public_key=rsa_key.public_key(), client_email=CLIENT_EMAIL)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def service_account(rsa_key, google_server):
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "client_email": CLIENT_EMAIL,
        "private_key_id": "key-1",
        "private_key": pem,
        "token_uri": google_server.token_url,
    }


@pytest.fixture
def platforms(settings, meta_server, google_server, service_account):
    """Point both platforms at the loopback servers, with no waits between retries."""
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "DEFAULT_PHONE_REGION": "GB",
        "AUDIENCE_RETRY_BASE_DELAY": timedelta(0),
        "AUDIENCE_RETRY_MAX_ATTEMPTS": 3,
        "AUDIENCE_PLATFORMS": {
            "meta": {
                "BACKEND": "omnichannel.audiences.platforms.meta.MetaPlatform",
                "BASE_URL": meta_server.url,
                "ACCESS_TOKEN": META_TOKEN,
                "APP_SECRET": META_APP_SECRET,
            },
            "google": {
                "BACKEND": "omnichannel.audiences.platforms.google.GooglePlatform",
                "BASE_URL": google_server.url,
                "SERVICE_ACCOUNT_INFO": json.dumps(service_account),
                "CUSTOMER_MATCH_TERMS_ACCEPTED": True,
            },
        },
    }
    return settings.OMNICHANNEL


@pytest.fixture(autouse=True)
def waits(monkeypatch):
    """Record the back-off waits instead of sleeping."""
    recorded = []
    monkeypatch.setattr(AdPlatform, "sleep", staticmethod(recorded.append))
    return recorded


@pytest.fixture(autouse=True)
def eager_celery():
    """Run tasks in-process, as the embedded demo does."""
    keys = ("task_always_eager", "task_eager_propagates", "broker_url")
    saved = {key: current_app.conf[key] for key in keys}
    current_app.conf.update(
        task_always_eager=True, task_eager_propagates=True, broker_url="memory://"
    )
    yield
    current_app.conf.update(saved)


@pytest.fixture
def set_options(settings, platforms):
    """Change options of one platform: ``set_options("meta", ACCESS_TOKEN=None)``."""

    def change(key, **options):
        changed = {**platforms["AUDIENCE_PLATFORMS"][key], **options}
        audience_platforms = {**platforms["AUDIENCE_PLATFORMS"], key: changed}
        settings.OMNICHANNEL = {**platforms, "AUDIENCE_PLATFORMS": audience_platforms}

    return change


@pytest.fixture
def all_logs(caplog):
    """Capture DEBUG records of the app and of urllib3, which logs each request."""
    import logging

    loggers = [logging.getLogger(name) for name in ("omnichannel", "urllib3")]
    levels = [logger.level for logger in loggers]
    caplog.handler.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(caplog.handler)
    yield caplog
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)
