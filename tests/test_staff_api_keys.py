"""Staff endpoints of the REST API accept an API key with the resource's scope."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from omnichannel.segments.models import Segment
from tests.factories import api_key

pytestmark = pytest.mark.django_db

SEGMENTS = "/omnichannel/api/segments/"
RULES = {"type": "aggregate", "measure": "total_spent", "op": "gte", "value": 100}


def _client(*scopes):
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_key(*scopes)}")


@pytest.fixture
def segment():
    return Segment.objects.create(name="Big spenders", slug="big-spenders", rules=RULES)


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        (SEGMENTS, "segments:read"),
        ("/omnichannel/api/templates/", "messages:read"),
        ("/omnichannel/api/deliveries/", "messages:read"),
        ("/omnichannel/api/experiments/", "experiments:read"),
    ],
)
def test_read_scope_lists(url, scope):
    response = _client(scope).get(url)

    assert response.status_code == 200, response.content


def test_key_without_scope_is_told_which(segment):
    response = _client("events:write").get(SEGMENTS)

    assert response.status_code == 403
    assert "segments:read" in response.json()["detail"]


def test_read_scope_cannot_write(segment):
    response = _client("segments:read").patch(
        f"{SEGMENTS}big-spenders/",
        {"name": "Renamed"},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert "segments:write" in response.json()["detail"]
    segment.refresh_from_db()
    assert segment.name == "Big spenders"


def test_write_scope_changes(segment):
    response = _client("segments:write").patch(
        f"{SEGMENTS}big-spenders/",
        {"name": "Renamed"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    segment.refresh_from_db()
    assert segment.name == "Renamed"


def test_staff_session_still_works(segment):
    client = Client()
    client.force_login(
        get_user_model().objects.create_user("mia", "mia@example.com", is_staff=True)
    )

    assert client.get(SEGMENTS).status_code == 200


def test_customer_session_is_refused(segment):
    client = Client()
    client.force_login(get_user_model().objects.create_user("ben", "b@example.com"))

    assert client.get(SEGMENTS).status_code == 403


def test_anonymous_is_refused(segment):
    assert Client().get(SEGMENTS).status_code == 401
