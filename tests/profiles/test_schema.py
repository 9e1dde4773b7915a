"""The OpenAPI schema is valid, and generated requests never cause a server error."""

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from omnichannel.authentication import API_SCOPES
from tests.factories import api_key

schema = schemathesis.openapi.from_wsgi(
    "/omnichannel/api/schema/?format=json", get_wsgi_application()
).include(path_regex=r"^/omnichannel/api/(?!schema)")


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Keep the test's database connection open across requests, as Django's test
    client does; the WSGI handler would otherwise close it after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_schema_generates_without_warnings(tmp_path):
    output = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(output))
    text = output.read_text()
    for path in ("/omnichannel/api/identify/", "/omnichannel/api/events/batch/"):
        assert path in text
    assert "bearer" in text


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_with_server_error(case):
    key = api_key(*API_SCOPES)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {key}"}, checks=[not_a_server_error]
    )
