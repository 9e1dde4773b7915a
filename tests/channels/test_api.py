import pytest

from omnichannel.channels import services
from omnichannel.channels.models import MessageTemplate
from tests.factories import ProfileFactory


@pytest.fixture
def sms_birthday(db):
    return MessageTemplate.objects.create(
        name="Birthday",
        slug="birthday",
        channel="sms",
        body="Happy birthday, {{ first_name }}!",
        recommendation_count=0,
    )


@pytest.mark.django_db
def test_api_lists_templates_for_staff(admin_client, client, sms_birthday):
    assert client.get("/omnichannel/api/templates/").status_code == 401
    response = admin_client.get("/omnichannel/api/templates/")
    assert response.status_code == 200
    assert [t["slug"] for t in response.json()] == ["birthday"]


@pytest.mark.django_db
def test_api_preview_counts_sms_segments(admin_client, sms_birthday):
    profile = ProfileFactory(first_name="Zoë", email="zoe@example.com")
    response = admin_client.post(
        "/omnichannel/api/templates/birthday/preview/",
        {"profile": "zoe@example.com"},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["text"].startswith(f"Happy birthday, {profile.first_name}!")
    assert body["sms"] == {
        "encoding": "ucs2",
        "units": 36,
        "segments": 1,
        "transliterated": False,
    }


@pytest.mark.django_db
def test_api_preview_unknown_profile_is_400(admin_client, sms_birthday):
    response = admin_client.post(
        "/omnichannel/api/templates/birthday/preview/",
        {"profile": "nobody@example.com"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "profile" in response.json()["errors"]


@pytest.mark.django_db
def test_api_deliveries_filtered_by_profile(admin_client, sms_birthday):
    first, second = ProfileFactory(), ProfileFactory()
    services.create_delivery(first, "sms", sms_birthday, dedupe_key="a")
    services.create_delivery(second, "sms", sms_birthday, dedupe_key="b")
    response = admin_client.get(f"/omnichannel/api/deliveries/?profile={first.pk}")
    assert [d["dedupe_key"] for d in response.json()] == ["a"]
    assert response.json()[0]["template"] == "birthday"
    assert response.json()[0]["profile_uuid"] == str(first.uuid)
    bad = admin_client.get("/omnichannel/api/deliveries/?profile=abc")
    assert bad.status_code == 400
