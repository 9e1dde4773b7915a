import pytest

from omnichannel.profiles.models import APIKey, Identity, ProfileMerge
from omnichannel.profiles.services import identify, track

pytestmark = pytest.mark.django_db


def test_admin_merge_then_undo(admin_client):
    first = identify(email="keep@example.com")
    second = identify(phone="+447700900456")
    track("page_viewed", profile=second)
    admin_client.post(
        "/admin/omnichannel/profile/",
        {"action": "merge_selected", "_selected_action": [first.pk, second.pk]},
    )
    merge = ProfileMerge.objects.get()
    assert merge.reason == "admin"
    second.refresh_from_db()
    assert second.merged_into_id == first.pk

    page = admin_client.get(f"/admin/omnichannel/profilemerge/{merge.pk}/change/")
    assert b"Undo this merge" in page.content
    admin_client.post(f"/admin/omnichannel/profilemerge/{merge.pk}/undo/")
    second.refresh_from_db()
    merge.refresh_from_db()
    assert second.merged_into_id is None
    assert merge.undone_by == "admin:admin"
    assert second.events.count() == 1
    assert Identity.objects.get(kind="phone").profile_id == second.pk


def test_admin_merge_refused_by_rules(admin_client):
    first = identify(email="one@example.com")
    second = identify(email="two@example.com")
    response = admin_client.post(
        "/admin/omnichannel/profile/",
        {"action": "merge_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert b"cannot be merged" in response.content
    assert ProfileMerge.objects.count() == 0


def test_admin_undo_action(admin_client):
    first = identify(email="keep@example.com")
    second = identify(phone="+447700900456")
    from omnichannel.profiles.merging import merge_profiles

    merge = merge_profiles(first, second)
    admin_client.post(
        "/admin/omnichannel/profilemerge/",
        {"action": "undo_selected", "_selected_action": [merge.pk]},
    )
    merge.refresh_from_db()
    assert merge.undone_at is not None


def test_admin_profile_page_shows_consent(admin_client):
    profile = identify(email="keep@example.com")
    response = admin_client.get(f"/admin/omnichannel/profile/{profile.pk}/change/")
    assert response.status_code == 200
    assert b"Marketing consent" in response.content


def test_admin_api_key_past_expiry_rejected(admin_client):
    response = admin_client.post(
        "/admin/omnichannel/apikey/add/",
        {
            "name": "Till Berlin",
            "scopes": ["events:write"],
            "expires_at_0": "2020-01-01",
            "expires_at_1": "00:00:00",
        },
    )

    assert response.status_code == 200
    assert "This time has passed" in response.content.decode()
    assert not APIKey.objects.exists()


def test_admin_creates_api_key_and_shows_it_once(admin_client):
    response = admin_client.post(
        "/admin/omnichannel/apikey/add/",
        {"name": "Till Berlin", "scopes": ["events:write", "profiles:write"]},
        follow=True,
    )
    key = APIKey.objects.get()
    assert key.scopes == ["events:write", "profiles:write"]
    assert key.created_by == "admin:admin"
    text = response.content.decode()
    assert f"omni_{key.prefix}_" in text
    page = admin_client.get(f"/admin/omnichannel/apikey/{key.pk}/change/")
    assert f"omni_{key.prefix}_" not in page.content.decode()


def test_admin_pages_load(admin_client):
    identify(email="keep@example.com")
    for model in (
        "profile",
        "event",
        "profilemerge",
        "apikey",
        "preference",
        "consentrecord",
        "consentwording",
        "topic",
        "suppression",
        "optinrequest",
        "datasubjectrequest",
    ):
        assert admin_client.get(f"/admin/omnichannel/{model}/").status_code == 200, (
            model
        )
    assert admin_client.get("/admin/omnichannel/consentrecord/add/").status_code == 200


def test_admin_records_consent_given_by_phone(admin_client):
    profile = identify(email="keep@example.com")
    admin_client.post(
        "/admin/omnichannel/consentrecord/add/",
        {
            "profile": profile.pk,
            "channel": "email",
            "purpose": "marketing",
            "topic": "",
            "granted": "on",
            "recorded_at_0": "2026-12-01",
            "recorded_at_1": "10:00:00",
            "wording_version": "phone-script-1",
        },
    )
    from omnichannel.consent.models import ConsentRecord

    record = ConsentRecord.objects.get()
    assert record.source == "admin:admin"
    assert record.address == "keep@example.com"
