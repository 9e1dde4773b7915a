"""Diff-based, resumable sync of segments into platform audiences."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.audiences import services
from omnichannel.audiences.hashing import sha256_hex
from omnichannel.audiences.models import (
    Audience,
    AudienceMember,
    MemberState,
    SyncRun,
    SyncStatus,
)
from omnichannel.consent.models import Channel
from omnichannel.consent.services import record_consent
from omnichannel.profiles.models import Profile
from omnichannel.segments.models import SegmentMembership
from tests.audiences.fakes import ScriptedResponse, meta_rate_limited, meta_unavailable
from tests.audiences.helpers import (
    GOOGLE_LIST,
    customer,
    google_audience,
    google_email,
    leave,
    meta_audience,
    meta_email,
)
from tests.factories import AudienceFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def sync(audience):
    return services.sync_audience(audience.pk)


def members(audience, state):
    return AudienceMember.objects.filter(audience=audience, state=state)


def test_sync_uploads_consenting_members_only(platforms, meta_server):
    segment = SegmentFactory()
    anna = customer(
        segment,
        email="anna.example@example.com",
        phone="+447700900123",
        first_name="Anna",
        last_name="Example",
        country="GB",
    )
    withdrawn = customer(segment, email="withdrawn@example.com")
    record_consent(withdrawn, Channel.ADS, False)
    customer(segment, email="never-asked@example.com", consent=None)
    customer(segment, email="declined@example.com", consent=False)
    customer(segment, consent=True, first_name="No", last_name="Identifier")
    erased = customer(segment, email="erased@example.com")
    Profile.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    left = customer(segment, email="left@example.com")
    leave(segment, left)
    audience = meta_audience(segment)

    run = sync(audience)

    assert meta_server.problems == []
    assert meta_server.audience(audience.external_id) == [
        {
            "EMAIL": sha256_hex("anna.example@example.com"),
            "PHONE": sha256_hex("447700900123"),
            "FN": sha256_hex("anna"),
            "LN": sha256_hex("example"),
            "COUNTRY": sha256_hex("gb"),
        }
    ]
    assert run.status == SyncStatus.OK
    assert run.segment_size == 6
    assert run.eligible == 1
    assert run.added == 1
    assert run.requests == 1
    member = AudienceMember.objects.get(audience=audience)
    assert member.profile == anna
    assert member.state == MemberState.ADDED
    audience.refresh_from_db()
    assert audience.member_count == 1
    assert audience.pending_count == 0
    assert audience.last_status == SyncStatus.OK
    assert audience.last_sync_at is not None
    assert audience.next_sync_at >= audience.last_sync_at + audience.sync_interval


def test_sync_second_run_sends_nothing(platforms, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)

    sync(audience)
    run = sync(audience)

    assert len(meta_server.requests) == 1
    assert run.planned_adds == 0
    assert run.planned_removes == 0
    assert run.requests == 0


def test_sync_removes_who_left(platforms, meta_server):
    segment = SegmentFactory()
    stays = customer(segment, email="stays@example.com")
    goes = customer(segment, email="goes@example.com")
    audience = meta_audience(segment)
    sync(audience)

    leave(segment, goes)
    run = sync(audience)

    assert [r["method"] for r in meta_server.requests] == ["POST", "DELETE"]
    assert meta_server.requests[1]["payload"]["data"] == [
        [sha256_hex("goes@example.com")]
    ]
    assert meta_server.audience(audience.external_id) == [
        meta_email("stays@example.com")
    ]
    assert run.removed == 1
    gone = AudienceMember.objects.get(profile=goes)
    assert gone.state == MemberState.REMOVED
    assert gone.uploaded is None
    assert gone.removed_at is not None
    assert AudienceMember.objects.get(profile=stays).state == MemberState.ADDED


def test_sync_removes_withdrawn_consent(platforms, google_server):
    segment = SegmentFactory()
    profile = customer(segment, email="zoe.sample@example.com")
    audience = google_audience(segment)
    sync(audience)
    assert google_server.audience(GOOGLE_LIST) == [
        google_email("zoe.sample@example.com")
    ]

    record_consent(profile, Channel.ADS, False)
    run = sync(audience)

    assert google_server.audience(GOOGLE_LIST) == []
    assert google_server.requests[-1]["method"] == "remove"
    assert run.removed == 1
    assert google_server.problems == []


def test_sync_returning_member_added_again(platforms, meta_server):
    segment = SegmentFactory()
    profile = customer(segment, email="back@example.com")
    audience = meta_audience(segment)
    sync(audience)
    leave(segment, profile)
    sync(audience)

    SegmentMembership.objects.create(segment=segment, profile=profile)
    run = sync(audience)

    assert run.added == 1
    assert [r["method"] for r in meta_server.requests] == ["POST", "DELETE", "POST"]
    assert AudienceMember.objects.filter(profile=profile).count() == 1


def test_sync_changed_email_removed_then_added(platforms, meta_server):
    segment = SegmentFactory()
    profile = customer(segment, email="old@example.com")
    audience = meta_audience(segment)
    sync(audience)

    Profile.objects.filter(pk=profile.pk).update(email="new@example.com")
    run = sync(audience)

    methods = [(r["method"], r["payload"]["data"]) for r in meta_server.requests[1:]]
    assert methods == [
        ("DELETE", [[sha256_hex("old@example.com")]]),
        ("POST", [[sha256_hex("new@example.com")]]),
    ]
    assert meta_server.audience(audience.external_id) == [meta_email("new@example.com")]
    assert run.removed == 1
    assert run.added == 1
    member = AudienceMember.objects.get(profile=profile)
    assert member.state == MemberState.ADDED
    assert member.uploaded == meta_email("new@example.com")


def test_sync_batches_within_option(platforms, set_options, meta_server):
    set_options("meta", BATCH_SIZE=2)
    segment = SegmentFactory()
    for n in range(5):
        customer(segment, email=f"customer{n}@example.com")
    audience = meta_audience(segment)

    run = sync(audience)

    assert [r["rows"] for r in meta_server.requests] == [2, 2, 1]
    assert run.requests == 3
    assert len(meta_server.audience(audience.external_id)) == 5


def bulk_customers(segment, count):
    profiles = Profile.objects.bulk_create(
        Profile(email=f"bulk{n}@example.com") for n in range(count)
    )
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, profile=p) for p in profiles
    )
    from omnichannel.consent.models import ConsentRecord

    at = timezone.now() - timedelta(seconds=1)
    ConsentRecord.objects.bulk_create(
        ConsentRecord(profile=p, channel=Channel.ADS, granted=True, recorded_at=at)
        for p in profiles
    )
    return profiles


def test_sync_splits_at_platform_limit(platforms, meta_server, google_server):
    segment = SegmentFactory()
    bulk_customers(segment, 10_001)
    meta = meta_audience(segment)
    google = google_audience(segment)

    sync(meta)
    sync(google)

    assert [r["rows"] for r in meta_server.requests] == [10_000, 1]
    assert [r["members"] for r in google_server.requests] == [10_000, 1]
    assert len(meta_server.audience(meta.external_id)) == 10_001
    assert len(google_server.audience(GOOGLE_LIST)) == 10_001
    assert meta_server.problems == []
    assert google_server.problems == []


def test_sync_resumes_without_adding_twice(platforms, set_options, meta_server):
    set_options("meta", BATCH_SIZE=2)
    segment = SegmentFactory()
    for n in range(5):
        customer(segment, email=f"customer{n}@example.com")
    audience = meta_audience(segment)
    platform = services.get_platform("meta")
    add_members = platform.add_members
    batches = []

    def fail_third_batch(*args, **kwargs):
        # Two batches succeed, then the platform fails every attempt of the third.
        batches.append(args)
        if len(batches) == 3:
            meta_server.respond_next(meta_unavailable(), times=3)
        return add_members(*args, **kwargs)

    platform.add_members = fail_third_batch
    run = sync(audience)

    assert run.status == SyncStatus.FAILED
    assert "Meta error 2" in run.error
    assert run.added == 4
    assert run.retry_after is not None
    assert members(audience, MemberState.PENDING_ADD).count() == 1
    assert not AudienceMember.objects.filter(in_flight=True).exists()
    audience.refresh_from_db()
    assert audience.last_status == SyncStatus.FAILED
    assert audience.consecutive_failures == 1
    assert audience.pending_count == 1
    assert audience.next_sync_at - audience.last_sync_at == timedelta(minutes=5)

    resumed = sync(audience)

    assert resumed.status == SyncStatus.OK
    assert resumed.added == 1
    assert len(meta_server.audience(audience.external_id)) == 5
    assert set(meta_server.add_counts.values()) == {1}
    audience.refresh_from_db()
    assert audience.consecutive_failures == 0
    assert audience.last_error == ""


def test_sync_crash_resends_only_unanswered_batch(platforms, set_options, meta_server):
    set_options("meta", BATCH_SIZE=2)
    segment = SegmentFactory()
    for n in range(5):
        customer(segment, email=f"customer{n}@example.com")
    audience = meta_audience(segment)
    original = services.record_added
    calls = {"n": 0}

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return original(*args, **kwargs)

    services.record_added = crash_on_second
    try:
        with pytest.raises(RuntimeError):
            sync(audience)
    finally:
        services.record_added = original
    assert members(audience, MemberState.ADDED).count() == 2
    assert AudienceMember.objects.filter(in_flight=True).count() == 2

    resumed = sync(audience)

    # The first batch is never sent again; the unanswered one is, and the platform
    # keeps one membership per person.
    assert resumed.status == SyncStatus.OK
    assert resumed.added == 3
    assert sorted(meta_server.add_counts.values()) == [1, 1, 1, 2, 2]
    assert len(meta_server.audience(audience.external_id)) == 5
    interrupted = SyncRun.objects.filter(audience=audience).order_by("id").first()
    assert interrupted.status == SyncStatus.FAILED
    assert "Interrupted" in interrupted.error


def test_sync_unanswered_member_removed_after_leaving(platforms, meta_server):
    segment = SegmentFactory()
    profile = customer(segment, email="gone@example.com")
    audience = meta_audience(segment)
    original = services.record_added
    services.record_added = lambda *args, **kwargs: (_ for _ in ()).throw(
        RuntimeError("worker killed")
    )
    try:
        with pytest.raises(RuntimeError):
            sync(audience)
    finally:
        services.record_added = original

    leave(segment, profile)
    sync(audience)

    assert [r["method"] for r in meta_server.requests] == ["POST", "DELETE"]
    assert meta_server.audience(audience.external_id) == []
    assert AudienceMember.objects.get(profile=profile).state == MemberState.REMOVED


def test_sync_rejected_rows_recorded(platforms, google_server):
    segment = SegmentFactory()
    good = customer(segment, email="good@example.com")
    bad = customer(segment, email="bad@example.com")
    google_server.invalid_values.add(sha256_hex("bad@example.com"))
    audience = google_audience(segment)

    run = sync(audience)

    assert run.status == SyncStatus.PARTIAL
    assert run.added == 1
    assert run.rejected == 1
    rejected = AudienceMember.objects.get(profile=bad)
    assert rejected.state == MemberState.REJECTED
    assert "SHA-256" in rejected.error
    assert AudienceMember.objects.get(profile=good).state == MemberState.ADDED
    audience.refresh_from_db()
    assert audience.last_status == SyncStatus.PARTIAL
    assert audience.rejected_count == 1
    assert audience.member_count == 1

    requests_before = len(google_server.requests)
    sync(audience)
    assert len(google_server.requests) == requests_before

    google_server.invalid_values.clear()
    Profile.objects.filter(pk=bad.pk).update(email="fixed@example.com")
    again = sync(audience)
    assert again.added == 1
    assert AudienceMember.objects.get(profile=bad).state == MemberState.ADDED


def test_sync_expired_token_recorded(platforms, set_options, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    set_options("meta", ACCESS_TOKEN="expired-token")

    run = sync(audience)

    assert run.status == SyncStatus.FAILED
    assert run.retry_after is None
    assert "190/463" in run.error
    audience.refresh_from_db()
    assert "Renew the access token" in audience.last_error
    assert "expired-token" not in audience.last_error
    assert audience.pending_count == 1
    member = AudienceMember.objects.get(audience=audience)
    assert member.state == MemberState.PENDING_ADD
    assert member.in_flight is False


def test_sync_long_rate_limit_postpones_next_run(platforms, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    meta_server.respond_next(meta_rate_limited(minutes=30))

    run = sync(audience)

    assert run.status == SyncStatus.FAILED
    assert run.retry_after == 1800.0
    audience.refresh_from_db()
    assert audience.next_sync_at - audience.last_sync_at == timedelta(minutes=30)


def test_sync_failure_backoff_grows(platforms, set_options, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    set_options("meta", ACCESS_TOKEN="expired-token")

    gaps = []
    for _ in range(3):
        sync(audience)
        audience.refresh_from_db()
        gaps.append(audience.next_sync_at - audience.last_sync_at)

    assert gaps == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]


def test_sync_skipped_while_leased(platforms, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    lease = services.acquire_lease(audience.pk)

    assert sync(audience) is None
    assert meta_server.requests == []

    Audience.objects.filter(pk=audience.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    run = sync(audience)
    assert run.status == SyncStatus.OK
    assert lease is not None


def test_sync_missing_audience_raises(platforms):
    with pytest.raises(Audience.DoesNotExist):
        services.sync_audience(987654)


def test_sync_unknown_platform_recorded(platforms):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = AudienceFactory(segment=segment, platform="tiktok")

    run = sync(audience)

    assert run.status == SyncStatus.FAILED
    assert "No ad platform 'tiktok'" in run.error


def test_sync_merged_profile_moves_to_survivor(platforms, meta_server):
    segment = SegmentFactory()
    loser = customer(segment, email="old.address@example.com")
    audience = meta_audience(segment)
    sync(audience)
    survivor = Profile.objects.create(email="anna.example@example.com")
    record_consent(
        survivor, Channel.ADS, True, at=timezone.now() - timedelta(seconds=1)
    )
    SegmentMembership.merge_profiles(survivor, loser)
    Profile.objects.filter(pk=loser.pk).update(merged_into=survivor)

    sync(audience)

    assert meta_server.audience(audience.external_id) == [
        meta_email("anna.example@example.com")
    ]
    assert AudienceMember.objects.get(profile=loser).state == MemberState.REMOVED
    assert AudienceMember.objects.get(profile=survivor).state == MemberState.ADDED


def test_sync_exclusion_list_uploads_members(platforms, google_server):
    segment = SegmentFactory()
    customer(segment, email="recent.buyer@example.com")
    audience = google_audience(segment, kind=Audience.Kind.EXCLUSION)

    sync(audience)

    assert google_server.audience(GOOGLE_LIST) == [
        google_email("recent.buyer@example.com")
    ]


def test_sync_deleted_profile_removed(platforms, meta_server):
    segment = SegmentFactory()
    profile = customer(segment, email="deleted@example.com", consent=None)
    record_consent(profile, Channel.ADS, True, at=timezone.now() - timedelta(seconds=1))
    audience = meta_audience(segment)
    sync(audience)
    member = AudienceMember.objects.get(profile=profile)
    # The consent ledger refuses deletes, so a raw delete stands in for a profile
    # removed outside the app.
    profile.consent_records.all()._raw_delete(using="default")
    profile.delete()

    sync(audience)

    member.refresh_from_db()
    assert member.profile is None
    assert member.state == MemberState.REMOVED
    assert meta_server.audience(audience.external_id) == []


def test_sync_timeout_keeps_row_in_doubt(platforms, settings, meta_server):
    settings.OMNICHANNEL = {
        **platforms,
        "AUDIENCE_HTTP_TIMEOUT": timedelta(seconds=0.2),
        "AUDIENCE_RETRY_MAX_ATTEMPTS": 1,
    }
    segment = SegmentFactory()
    customer(segment, email="slow@example.com")
    audience = meta_audience(segment)
    ok = {"audience_id": audience.external_id, "num_received": 1}
    meta_server.respond_next(ScriptedResponse(200, ok, delay=0.5))

    run = sync(audience)

    assert run.status == SyncStatus.FAILED
    assert "no response" in run.error
    member = AudienceMember.objects.get(audience=audience)
    assert member.state == MemberState.PENDING_ADD
    assert member.in_flight is True

    resumed = sync(audience)

    assert resumed.status == SyncStatus.OK
    member.refresh_from_db()
    assert member.state == MemberState.ADDED
    assert member.in_flight is False
