"""REST endpoints of the assistant."""

from datetime import date

import pytest
from drf_spectacular.generators import SchemaGenerator

from omnichannel.assistant.client import utc_today
from omnichannel.assistant.models import ModelUsage, WeeklyInsight
from omnichannel.channels.models import MessageTemplate
from omnichannel.experiments.models import Experiment

pytestmark = pytest.mark.django_db

API = "/omnichannel/api/assistant"


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_user("ann", "a@x.com", "pw", is_staff=True)
    )
    return client


@pytest.fixture
def template(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}
    return MessageTemplate.objects.create(
        name="SMS", slug="sms-offer", channel="sms", body="New colours are in"
    )


def test_variants_endpoint_returns_checked_variants(staff, template):
    response = staff.post(
        f"{API}/variants/",
        {"template": "sms-offer", "kind": "sms", "count": 1},
        content_type="application/json",
    )

    body = response.json()
    assert response.status_code == 200
    assert body["written_by_model"] is False
    assert len(body["variants"]) == 1
    assert body["variants"][0]["sms"]["encoding"] == "gsm7"
    assert body["variants"][0]["usable"] is True


def test_variants_endpoint_rejects_bad_input(staff, template):
    unknown = staff.post(
        f"{API}/variants/",
        {"template": "nope", "kind": "sms"},
        content_type="application/json",
    )
    wrong_kind = staff.post(
        f"{API}/variants/",
        {"template": "sms-offer", "kind": "subject"},
        content_type="application/json",
    )

    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {
        "template": ["No message template has the slug 'nope'."]
    }
    assert wrong_kind.status_code == 400
    assert (
        "is not a kind of copy for a sms template"
        in (wrong_kind.json()["errors"]["kind"][0])
    )


def test_experiment_endpoint_creates_draft(staff, template):
    response = staff.post(
        f"{API}/variants/experiment/",
        {
            "template": "sms-offer",
            "kind": "sms",
            "variants": ["Fresh colours, 20 shades"],
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json()["status"] == "draft"
    assert [v["key"] for v in response.json()["variants"]] == ["control", "variant-1"]


def test_experiment_endpoint_rejects_unusable_variant(staff, template):
    response = staff.post(
        f"{API}/variants/experiment/",
        {"template": "sms-offer", "kind": "sms", "variants": ["{{ secret }}"]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "Variant 1 cannot be used" in response.json()["errors"]["variants"][0]
    assert not Experiment.objects.exists()


def test_usage_endpoint_sums_today(staff, template):
    ModelUsage.objects.create(
        day=utc_today(), feature="x", model="m", prompt_tokens=5, completion_tokens=7
    )

    body = staff.get(f"{API}/usage/").json()

    assert body["tokens_used"] == 12
    assert body["daily_budget"] == 200_000
    assert body["model_configured"] is False


def test_insights_endpoint_by_week(staff):
    WeeklyInsight.objects.create(
        week_start=date(2026, 11, 23), summary="Quiet week.", metrics={"channels": []}
    )

    listing = staff.get(f"{API}/insights/").json()
    one = staff.get(f"{API}/insights/2026-11-23/")

    assert [row["week_start"] for row in listing] == ["2026-11-23"]
    assert one.json()["summary"] == "Quiet week."


def test_endpoints_need_staff(client, template):
    assert client.get(f"{API}/usage/").status_code == 401
    assert client.post(f"{API}/variants/", {}).status_code == 401


def test_schema_documents_endpoints():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    assert "/omnichannel/api/assistant/variants/" in paths
    assert "/omnichannel/api/assistant/variants/experiment/" in paths
    assert "/omnichannel/api/assistant/insights/{week_start}/" in paths
