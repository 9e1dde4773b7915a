import pytest
from rest_framework.test import APIClient

from omnichannel.authentication import API_SCOPES
from tests.factories import api_key

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
JS_URL = "javascript:alert(3)"
HOSTILE = (SCRIPT, IMG, JS_URL)
SQL = (
    "'; DROP TABLE omnichannel_profile; --",
    "1 OR 1=1",
    '" OR ""="',
    "Robert'); DELETE FROM omnichannel_event WHERE ('a'='a",
)


def assert_escaped(html, payload):
    """The payload appears in ``html`` only as text, never as markup."""
    assert payload not in html
    assert "<script>alert(1)" not in html
    assert "onerror=alert(2)>" not in html
    assert 'href="javascript:' not in html


@pytest.fixture
def api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(*API_SCOPES)}")
    return client


@pytest.fixture
def omnichannel_settings(settings):
    def override(**values):
        settings.OMNICHANNEL = {**settings.OMNICHANNEL, **values}

    return override
