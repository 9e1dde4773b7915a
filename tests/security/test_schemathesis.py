"""Generated requests against the app's OpenAPI schema: no server error and no
response that breaks its documented schema, as staff and as an anonymous client.

The run is bounded and derandomized, so it is the same on every run; schemathesis
derives the requests from ``/omnichannel/api/schema/``.
"""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from omnichannel.authentication import API_SCOPES
from tests.factories import api_key

# The event stream keeps each request open for CHAT_STREAM_SECONDS.
schema = schemathesis.openapi.from_wsgi(
    "/omnichannel/api/schema/?format=json", get_wsgi_application()
).exclude(path_regex=r"(/api/schema/|/events/$)")

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
CSRF_SECRET = "a" * 32
FUZZ = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Keep the test's database connection open across requests, as Django's test
    client does; the WSGI handler would otherwise close it after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff(db):
    """Return the headers and cookies of a superuser's session and an API key with
    every scope."""
    user = get_user_model().objects.create_superuser(
        "fuzz-admin", "admin@shop.example", "pw"
    )
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    return {
        "headers": {
            "Authorization": f"Bearer {api_key(*API_SCOPES)}",
            "X-CSRFToken": CSRF_SECRET,
        },
        "cookies": {"sessionid": session, "csrftoken": CSRF_SECRET},
    }


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_api_as_staff(case, staff):
    case.call_and_validate(**staff, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
# Anonymous requests mostly end at authentication, so they need fewer examples.
@settings(FUZZ, max_examples=3)
def test_api_anonymous(case):
    case.call_and_validate(checks=CHECKS)
