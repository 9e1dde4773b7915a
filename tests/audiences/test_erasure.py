"""Erasing a profile removes it from every synced audience."""

import pytest
from django.db import transaction
from django.utils import timezone

from omnichannel.audiences import services
from omnichannel.audiences.hashing import sha256_hex
from omnichannel.audiences.models import AudienceMember, MemberState, SyncRun
from omnichannel.audiences.tasks import sync_due_audiences
from omnichannel.profiles.models import Profile
from omnichannel.profiles.signals import profile_erased
from tests.audiences.fakes import meta_rate_limited
from tests.audiences.helpers import (
    GOOGLE_LIST,
    customer,
    google_audience,
    google_email,
    meta_audience,
    meta_email,
)
from tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def erase(profile):
    """Wipe the raw identifiers, as an erasure does, and announce it."""
    with transaction.atomic():
        Profile.objects.filter(pk=profile.pk).update(
            email="", phone="", first_name="", last_name="", erased_at=timezone.now()
        )
        profile.refresh_from_db()
        profile_erased.send(sender=Profile, profile=profile)


def test_erasure_removes_from_every_audience(
    platforms, meta_server, google_server, django_capture_on_commit_callbacks
):
    segment = SegmentFactory()
    anna = customer(segment, email="anna.example@example.com")
    customer(segment, email="stays@example.com")
    meta = meta_audience(segment)
    google = google_audience(segment)
    services.sync_audience(meta.pk)
    services.sync_audience(google.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        erase(anna)

    assert len(callbacks) == 2
    assert meta_server.requests[-1]["method"] == "DELETE"
    # The hashes stored at upload time, since the raw email is gone.
    assert meta_server.requests[-1]["payload"]["data"] == [
        [sha256_hex("anna.example@example.com")]
    ]
    assert meta_server.audience(meta.external_id) == [meta_email("stays@example.com")]
    assert google_server.requests[-1]["method"] == "remove"
    assert google_server.audience(GOOGLE_LIST) == [google_email("stays@example.com")]
    for member in AudienceMember.objects.filter(profile=anna):
        assert member.state == MemberState.REMOVED
        assert member.uploaded is None
        assert member.pending is None
    runs = SyncRun.objects.filter(trigger=SyncRun.Trigger.ERASURE)
    assert sorted(run.removed for run in runs) == [1, 1]
    assert all(run.planned_adds == 0 for run in runs)


def test_erasure_reaches_paused_audience(
    platforms, meta_server, django_capture_on_commit_callbacks
):
    segment = SegmentFactory()
    anna = customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    services.sync_audience(audience.pk)
    audience.is_active = False
    audience.save()

    with django_capture_on_commit_callbacks(execute=True):
        erase(anna)

    assert meta_server.audience(audience.external_id) == []


def test_erasure_of_pending_member_sends_nothing(
    platforms, meta_server, django_capture_on_commit_callbacks
):
    segment = SegmentFactory()
    anna = customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    services.plan_audience(audience, services.get_platform("meta"), timezone.now())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        erase(anna)

    assert callbacks == []
    assert meta_server.requests == []
    member = AudienceMember.objects.get(profile=anna)
    assert member.state == MemberState.REMOVED
    assert member.pending is None


def test_erasure_retried_by_schedule_after_failure(
    platforms, meta_server, django_capture_on_commit_callbacks
):
    segment = SegmentFactory()
    anna = customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    services.sync_audience(audience.pk)
    audience.is_active = False
    audience.save()
    meta_server.respond_next(meta_rate_limited(minutes=30))

    with django_capture_on_commit_callbacks(execute=True):
        erase(anna)

    member = AudienceMember.objects.get(profile=anna)
    assert member.state == MemberState.PENDING_REMOVE
    assert member.uploaded == meta_email("anna.example@example.com")
    assert meta_server.audience(audience.external_id) != []

    type(audience).objects.filter(pk=audience.pk).update(next_sync_at=timezone.now())
    assert services.due_audiences() == [(audience.pk, True)]
    sync_due_audiences()

    member.refresh_from_db()
    assert member.state == MemberState.REMOVED
    assert meta_server.audience(audience.external_id) == []


def test_erasure_without_audiences_is_quiet(
    platforms, django_capture_on_commit_callbacks
):
    profile = Profile.objects.create(email="nobody@example.com")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        erase(profile)

    assert callbacks == []


def test_erasure_after_planning_blocks_upload(platforms, meta_server):
    segment = SegmentFactory()
    anna = customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    platform = services.get_platform("meta")
    services.plan_audience(audience, platform, timezone.now())
    Profile.objects.filter(pk=anna.pk).update(email="", erased_at=timezone.now())
    lease = services.acquire_lease(audience.pk)
    run = SyncRun.objects.create(audience=audience, trigger=SyncRun.Trigger.COMMAND)

    services.send_pending(audience, platform, run, lease)

    assert meta_server.requests == []
    member = AudienceMember.objects.get(profile=anna)
    assert member.state == MemberState.PENDING_ADD
