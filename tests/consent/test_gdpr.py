import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from omnichannel.consent.gdpr import address_digest, erase_profile, export_profile
from omnichannel.consent.models import ConsentRecord, DataSubjectRequest
from omnichannel.consent.services import record_consent
from omnichannel.profiles.merging import merge_profiles
from omnichannel.profiles.models import (
    Event,
    Identity,
    Preference,
    Profile,
    ProfileMerge,
)
from omnichannel.profiles.services import identify, record_preference, track
from omnichannel.profiles.signals import profile_erased
from tests.factories import api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    profile = identify(
        email="zoe.sample@example.com",
        phone="+447700900789",
        traits={"first_name": "Zoe", "last_name": "Sample", "country": "GB"},
    )
    record_consent(profile, "email", True, ip_address="203.0.113.7", source="popup")
    record_preference(profile, "interest", "men's running shoes", source="popup:quiz")
    track(
        "order_placed",
        profile=profile,
        revenue="59.00",
        object_type="order",
        object_id="1001",
        properties={"sku": "MUG-042", "gift_message": "Happy birthday Zoe!"},
    )
    return profile


def test_export_holds_everything(profile):
    other = identify(external_id="pos-9")
    merge_profiles(profile, other)
    data = export_profile(profile, requested_by="dpo", via="admin")
    encoded = json.dumps(data)
    assert data["format"] == "omnichannel-export/1"
    assert data["profile"]["email"] == "zoe.sample@example.com"
    assert data["profile"]["first_name"] == "Zoe"
    related = data["related"]
    assert {row["value"] for row in related["omnichannel.Identity"]} == {
        "zoe.sample@example.com",
        "+447700900789",
        "pos-9",
    }
    assert related["omnichannel.Event"][0]["properties"]["gift_message"]
    assert related["omnichannel.ConsentRecord"][0]["ip_address"] == "203.0.113.7"
    assert related["omnichannel.Preference"][0]["value"] == "men's running shoes"
    assert len(data["merged_profiles"]) == 1
    assert len(data["merges"]) == 1
    assert "Happy birthday" in encoded
    request = DataSubjectRequest.objects.get()
    assert request.kind == "export"
    assert request.requested_by == "dpo"


def test_erase_anonymises_and_keeps_proof(profile):
    received = []

    def on_erase(sender, profile, identities, **kwargs):
        received.append((profile.pk, sorted(identities)))

    profile_erased.connect(on_erase)
    try:
        erase_profile(profile, requested_by="dpo", via="command")
    finally:
        profile_erased.disconnect(on_erase)

    profile.refresh_from_db()
    assert profile.erased_at is not None
    assert profile.email == ""
    assert profile.phone == ""
    assert profile.first_name == ""
    assert profile.last_name == ""
    assert profile.country == "GB"
    assert profile.order_count == 1
    assert Identity.objects.count() == 0
    assert Preference.objects.count() == 0
    event = Event.objects.get(name="order_placed")
    assert event.properties == {"sku": "MUG-042"}
    assert str(event.revenue) == "59.00"
    record = ConsentRecord.objects.get()
    assert record.address == address_digest("zoe.sample@example.com")
    assert record.ip_address == "203.0.113.7"
    assert record.granted is True
    assert received == [
        (
            profile.pk,
            [("email", "zoe.sample@example.com"), ("phone", "+447700900789")],
        )
    ]
    assert DataSubjectRequest.objects.get().kind == "erasure"


def test_erase_also_erases_merged_profiles(profile):
    other = identify(external_id="pos-9", traits={"first_name": "Zoë"})
    merge = merge_profiles(profile, other)
    erase_profile(profile)
    other.refresh_from_db()
    assert other.erased_at is not None
    assert other.first_name == ""
    merge = ProfileMerge.objects.get(pk=merge.pk)
    assert merge.loser_fields == {}
    assert merge.survivor_fields == {}


def test_erase_twice_changes_nothing(profile):
    first = erase_profile(profile)
    second = erase_profile(profile)
    assert first.pk == second.pk
    assert DataSubjectRequest.objects.count() == 1


def test_erased_person_coming_back_gets_new_profile(profile):
    erase_profile(profile)
    again = identify(email="zoe.sample@example.com")
    assert again.pk != profile.pk
    assert again.email == "zoe.sample@example.com"


def test_erase_unlinks_shop_user(profile):
    user = get_user_model().objects.create(username="zoe")
    Profile.objects.filter(pk=profile.pk).update(user=user)
    erase_profile(profile)
    profile.refresh_from_db()
    assert profile.user_id is None


def test_gdpr_api(profile):
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('profiles:read')}")
    exported = reader.get(f"/omnichannel/api/profiles/{profile.uuid}/export/")
    assert exported.status_code == 200
    assert exported.json()["profile"]["email"] == "zoe.sample@example.com"
    denied = reader.post(f"/omnichannel/api/profiles/{profile.uuid}/erase/")
    assert denied.status_code == 403
    eraser = APIClient()
    eraser.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('profiles:erase')}")
    erased = eraser.post(f"/omnichannel/api/profiles/{profile.uuid}/erase/")
    assert erased.status_code == 200
    assert Identity.objects.count() == 0
    gone = reader.get(f"/omnichannel/api/profiles/{profile.uuid}/")
    assert gone.status_code == 410


def test_gdpr_commands(profile, tmp_path, capsys):
    output = tmp_path / "export.json"
    call_command(
        "omnichannel_export_profile",
        "--email",
        "ZOE.SAMPLE@example.com",
        "--output",
        str(output),
    )
    assert json.loads(output.read_text())["profile"]["phone"] == "+447700900789"
    call_command("omnichannel_erase_profile", "--phone", "+44 7700 900789", "--yes")
    profile.refresh_from_db()
    assert profile.erased_at is not None


@pytest.mark.parametrize(
    "args",
    [
        ["--email", "nobody@example.com"],
        ["--email", "not-an-email"],
        ["--profile", "not-a-uuid"],
    ],
)
def test_gdpr_command_bad_lookup(args):
    with pytest.raises(CommandError):
        call_command("omnichannel_export_profile", *args)


def test_erase_command_without_yes_asks(profile, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Nothing was erased"):
        call_command("omnichannel_erase_profile", "--email", "zoe.sample@example.com")
    profile.refresh_from_db()
    assert profile.erased_at is None


def test_admin_erase_asks_then_erases(profile, admin_client):
    url = "/admin/omnichannel/profile/"
    data = {"action": "erase_selected", "_selected_action": [profile.pk]}
    page = admin_client.post(url, data)
    assert page.status_code == 200
    assert b"Yes, erase" in page.content
    profile.refresh_from_db()
    assert profile.erased_at is None
    admin_client.post(url, {**data, "confirm": "yes"})
    profile.refresh_from_db()
    assert profile.erased_at is not None
    assert DataSubjectRequest.objects.get().requested_by == "admin:admin"


def test_admin_export_downloads_json(profile, admin_client):
    response = admin_client.post(
        "/admin/omnichannel/profile/",
        {"action": "export_selected", "_selected_action": [profile.pk]},
    )
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["profile"]["email"] == "zoe.sample@example.com"
