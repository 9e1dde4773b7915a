"""The audience admin: status, counts, errors, "Sync now" and validation."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from omnichannel.audiences import services
from omnichannel.audiences.hashing import sha256_hex
from omnichannel.audiences.models import Audience, AudienceMember, MemberState
from tests.audiences.helpers import customer, google_audience, meta_audience
from tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser(
        "admin", "admin@example.com", "password"
    )
    client.force_login(user)
    return client


def test_admin_list_shows_status_counts_error(staff, platforms, set_options):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    customer(segment, email="zoe.sample@example.com")
    ok = meta_audience(segment, name="Lapsed buyers")
    services.sync_audience(ok.pk)
    set_options("meta", ACCESS_TOKEN="expired-token")
    failing = meta_audience(segment, name="Recent buyers", external_id="555")
    services.sync_audience(failing.pk)

    response = staff.get(reverse("admin:omnichannel_audience_changelist"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Lapsed buyers" in html
    assert "in sync" in html
    assert "failed" in html
    assert "Meta error 190/463" in html
    assert "expired-token" not in html


def test_admin_change_page_shows_runs_and_button(staff, platforms):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    services.sync_audience(audience.pk)

    response = staff.get(
        reverse("admin:omnichannel_audience_change", args=[audience.pk])
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("admin:omnichannel_audience_sync", args=[audience.pk]) in html
    assert "Sync now" in html
    assert "recent syncs" in html.lower()
    assert "<td>1</td>" in html


def test_admin_sync_now_action_runs_sync(
    staff, platforms, meta_server, google_server, django_capture_on_commit_callbacks
):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    meta = meta_audience(segment)
    google = google_audience(segment)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("admin:omnichannel_audience_changelist"),
            {"action": "sync_now", "_selected_action": [meta.pk, google.pk]},
            follow=True,
        )

    assert "Sync queued for 2 audiences." in response.content.decode()
    assert len(meta_server.audience(meta.external_id)) == 1
    assert len(google_server.audience(google.external_id)) == 1
    meta.refresh_from_db()
    assert meta.member_count == 1
    assert meta.runs.get().trigger == "admin"


def test_admin_sync_button_posts_only(
    staff, platforms, meta_server, django_capture_on_commit_callbacks
):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment, name="Lapsed buyers")
    url = reverse("admin:omnichannel_audience_sync", args=[audience.pk])

    assert staff.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, follow=True)

    assert "Sync of “Lapsed buyers” queued." in response.content.decode()
    assert len(meta_server.audience(audience.external_id)) == 1
    assert (
        staff.post(reverse("admin:omnichannel_audience_sync", args=[999])).status_code
        == 404
    )


def test_admin_add_form_validates_platform_ids(staff, platforms):
    segment = SegmentFactory()
    url = reverse("admin:omnichannel_audience_add")
    data = {
        "name": "Lapsed buyers",
        "segment": segment.pk,
        "platform": "google",
        "kind": "target",
        "external_id": "list-42",
        "account_id": "12345",
        "is_active": "on",
        "sync_interval": "06:00:00",
    }

    response = staff.post(url, data)

    html = response.content.decode()
    assert response.status_code == 200
    assert "A Customer Match user list id is a number" in html
    assert "ten digits, dashes allowed" in html
    assert not Audience.objects.exists()

    response = staff.post(
        url, {**data, "external_id": "8123456789", "account_id": "123-456-7890"}
    )
    assert response.status_code == 302
    assert Audience.objects.get().account_id == "123-456-7890"


def test_admin_add_form_lists_configured_platforms(staff, platforms):
    response = staff.get(reverse("admin:omnichannel_audience_add"))

    html = response.content.decode()
    assert 'value="meta"' in html
    assert 'value="google"' in html
    assert "Google Customer Match (google)" in html


def test_admin_add_form_rejects_short_interval(staff, platforms):
    response = staff.post(
        reverse("admin:omnichannel_audience_add"),
        {
            "name": "Lapsed buyers",
            "segment": SegmentFactory().pk,
            "platform": "meta",
            "kind": "exclusion",
            "external_id": "23851234567890123",
            "is_active": "on",
            "sync_interval": "00:01:00",
        },
    )

    assert "Sync at most every 5 minutes" in response.content.decode()


def test_admin_retry_rejected_action(staff, platforms, google_server):
    segment = SegmentFactory()
    customer(segment, email="bad@example.com")
    google_server.invalid_values.add(sha256_hex("bad@example.com"))
    audience = google_audience(segment)
    services.sync_audience(audience.pk)
    assert AudienceMember.objects.get().state == MemberState.REJECTED

    response = staff.post(
        reverse("admin:omnichannel_audience_changelist"),
        {"action": "retry_rejected", "_selected_action": [audience.pk]},
        follow=True,
    )

    assert "1 rejected row will be uploaded again." in response.content.decode()
    assert AudienceMember.objects.get().state == MemberState.PENDING_ADD


def test_admin_member_list_hides_hashes(staff, platforms):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    services.sync_audience(audience.pk)

    response = staff.get(reverse("admin:omnichannel_audiencemember_changelist"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "EMAIL" in html
    assert sha256_hex("anna.example@example.com") not in html
    member = AudienceMember.objects.get()
    detail = staff.get(
        reverse("admin:omnichannel_audiencemember_change", args=[member.pk])
    )
    assert sha256_hex("anna.example@example.com") not in detail.content.decode()


def test_admin_sync_run_list(staff, platforms):
    audience = meta_audience()
    services.sync_audience(audience.pk)

    response = staff.get(reverse("admin:omnichannel_syncrun_changelist"))

    assert response.status_code == 200
    assert str(audience) in response.content.decode()
