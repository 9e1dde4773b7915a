import pytest
from django.urls import reverse

from omnichannel.segments.membership import rebuild_segment
from omnichannel.segments.models import Segment
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

GERMANS = {"type": "profile", "field": "country", "op": "eq", "value": "DE"}


def url(name, *args):
    return reverse(f"omnichannel:segment-{name}", args=args)


def test_api_create_segment(admin_client):
    response = admin_client.post(
        url("list"),
        {"name": "Germans", "slug": "germans", "rules": GERMANS},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Segment.objects.get(slug="germans").rules == GERMANS


def test_api_rejects_invalid_rule_with_path(admin_client):
    response = admin_client.post(
        url("list"),
        {"name": "Bad", "slug": "bad", "rules": {"all": [{"type": "profile"}]}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["rules"] == ["all[0].field: is required."]


def test_api_rejects_cycle(admin_client):
    Segment.objects.create(name="A", slug="a")
    Segment.objects.create(
        name="B", slug="b", rules={"type": "segment", "segment": "a"}
    )
    response = admin_client.patch(
        url("detail", "a"),
        {"rules": {"type": "segment", "segment": "b"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "cycle (a -> b -> a)" in response.json()["errors"]["rules"][0]


def test_api_members_and_explain(admin_client):
    anna = ProfileFactory(country="DE", email="anna@example.com")
    ben = ProfileFactory(country="FR")
    segment = Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    rebuild_segment(segment)

    members = admin_client.get(url("members", "germans")).json()
    assert members["count"] == 1
    assert members["results"][0]["profile"] == anna.pk
    assert members["results"][0]["profile_uuid"] == str(anna.uuid)

    explained = admin_client.get(url("explain", "germans"), {"profile": ben.pk}).json()
    assert explained["meets_rule"] is False
    assert explained["member"] is False
    assert explained["conditions"][0]["reason"] == "Country is FR"

    assert (
        admin_client.get(url("explain", "germans"), {"profile": "x"}).status_code == 400
    )
    assert (
        admin_client.get(url("explain", "germans"), {"profile": 999999}).status_code
        == 404
    )


def test_api_preview(admin_client):
    anna = ProfileFactory(country="DE")
    response = admin_client.post(
        url("preview"), {"rules": GERMANS}, content_type="application/json"
    )
    assert response.json() == {"count": 1, "timed_out": False, "sample": [anna.pk]}

    bad = admin_client.post(
        url("preview"), {"rules": {"any": "x"}}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"]["rules"] == ["any: must be a list of conditions."]


def test_api_history_and_schema(admin_client):
    Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    history = admin_client.get(url("history", "germans"), {"days": 7}).json()
    assert len(history) == 7
    assert admin_client.get(url("history", "germans"), {"days": 0}).status_code == 400
    schema = admin_client.get(url("rule-schema")).json()
    assert schema["$ref"] == "#/$defs/node"


def test_api_delete_in_use_conflicts(admin_client):
    Segment.objects.create(name="A", slug="a")
    Segment.objects.create(
        name="B", slug="b", rules={"type": "segment", "segment": "a"}
    )
    response = admin_client.delete(url("detail", "a"))
    assert response.status_code == 409
    assert response.json()["used_by"] == ["b"]


def test_api_rebuild_queues_task(admin_client):
    ProfileFactory(country="DE")
    segment = Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    response = admin_client.post(url("rebuild", "germans"))
    assert response.status_code == 202
    assert segment.memberships.count() == 1


def test_api_requires_staff(client):
    assert client.get(url("list")).status_code in (401, 403)


def test_api_members_by_hand(admin_client):
    anna = ProfileFactory()
    Segment.objects.create(name="Imported", slug="imported")
    response = admin_client.post(
        url("members", "imported"), {"add": [anna.pk]}, content_type="application/json"
    )
    assert response.json() == {"added": [anna.pk], "removed": []}

    Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    refused = admin_client.post(
        url("members", "germans"), {"add": [anna.pk]}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "segment_has_rule"
