"""The beat task, segment-change triggers and the management command."""

from datetime import timedelta
from io import StringIO

import pytest
from celery import current_app
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from omnichannel.audiences import services
from omnichannel.audiences.models import Audience, AudienceMember, MemberState
from omnichannel.audiences.schedule import (
    BEAT_ENTRY,
    BEAT_TASK,
    beat_schedule,
    install_periodic_task,
)
from omnichannel.audiences.tasks import sync_due_audiences
from omnichannel.segments.signals import segment_entered, segment_exited
from tests.audiences.helpers import customer, meta_audience
from tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def test_beat_schedule_names_registered_task():
    entry = beat_schedule(timedelta(minutes=5))[BEAT_ENTRY]

    assert entry == {"task": BEAT_TASK, "schedule": timedelta(minutes=5)}
    assert BEAT_TASK in current_app.tasks
    assert "omnichannel.audiences.sync_audience" in current_app.tasks


def test_install_periodic_task_idempotent():
    install_periodic_task(timedelta(minutes=15))
    task = install_periodic_task(timedelta(minutes=10))

    assert PeriodicTask.objects.filter(name=BEAT_ENTRY).count() == 1
    assert task.task == BEAT_TASK
    assert task.interval.every == 600
    assert task.enabled


def test_install_periodic_task_rejects_zero():
    with pytest.raises(ValueError, match="at least one second"):
        install_periodic_task(timedelta(0))


def test_due_audiences_by_schedule_and_removals(platforms, meta_server):
    now = timezone.now()
    due = meta_audience(external_id="1", next_sync_at=now - timedelta(minutes=1))
    new = meta_audience(external_id="2")
    meta_audience(external_id="3", next_sync_at=now + timedelta(hours=1))
    paused_idle = meta_audience(external_id="4", is_active=False)
    paused = meta_audience(external_id="5", is_active=False)
    AudienceMember.objects.create(
        audience=paused,
        state=MemberState.PENDING_REMOVE,
        uploaded={"EMAIL": "0" * 64},
    )
    leased = meta_audience(external_id="6", next_sync_at=now)
    services.acquire_lease(leased.pk)

    found = services.due_audiences(now)

    assert sorted(found) == sorted(
        [(due.pk, False), (new.pk, False), (paused.pk, True)]
    )
    assert paused_idle.pk not in [pk for pk, _ in found]


def test_sync_due_audiences_runs_and_reschedules(platforms, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)

    queued = sync_due_audiences()

    assert queued == 1
    assert len(meta_server.audience(audience.external_id)) == 1
    audience.refresh_from_db()
    assert audience.next_sync_at > timezone.now() + timedelta(hours=5)
    assert sync_due_audiences() == 0


def test_claim_pushes_next_sync_past_lease(platforms):
    audience = meta_audience()
    now = timezone.now()

    assert services.claim_due_audiences(now) == [(audience.pk, False)]

    audience.refresh_from_db()
    assert audience.next_sync_at == now + timedelta(minutes=30)
    assert services.due_audiences(now) == []


def test_segment_change_brings_sync_forward(platforms):
    cache.clear()
    segment = SegmentFactory()
    later = timezone.now() + timedelta(hours=6)
    audience = meta_audience(segment, next_sync_at=later)
    paused = meta_audience(
        segment, external_id="9", is_active=False, next_sync_at=later
    )
    profile = customer(segment, email="anna.example@example.com")

    segment_entered.send(sender=None, segment=segment, profile=profile, at=None)

    audience.refresh_from_db()
    paused.refresh_from_db()
    expected = timezone.now() + timedelta(minutes=15)
    assert abs(audience.next_sync_at - expected) < timedelta(seconds=5)
    assert paused.next_sync_at == later

    # Later changes in the same window leave the time alone.
    Audience.objects.filter(pk=audience.pk).update(next_sync_at=later)
    segment_exited.send(sender=None, segment=segment, profile=profile, at=None)
    audience.refresh_from_db()
    assert audience.next_sync_at == later


def test_segment_change_trigger_disabled(platforms, settings):
    cache.clear()
    settings.OMNICHANNEL = {**platforms, "AUDIENCE_SYNC_DELAY_AFTER_CHANGE": None}
    segment = SegmentFactory()
    later = timezone.now() + timedelta(hours=6)
    audience = meta_audience(segment, next_sync_at=later)

    segment_entered.send(sender=None, segment=segment, profile=None, at=None)

    audience.refresh_from_db()
    assert audience.next_sync_at == later


def test_command_syncs_due_audiences(platforms, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    out = StringIO()

    call_command("omnichannel_sync_audiences", stdout=out)

    assert (
        f"audience {audience.pk}: ok, 1 added, 0 removed, 0 rejected" in out.getvalue()
    )
    out = StringIO()
    call_command("omnichannel_sync_audiences", stdout=out)
    assert "No audience is due." in out.getvalue()


def test_command_named_audience_reports_error(platforms, set_options, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment, next_sync_at=timezone.now() + timedelta(days=1))
    set_options("meta", ACCESS_TOKEN="expired-token")
    out = StringIO()

    call_command(
        "omnichannel_sync_audiences", "--audience", str(audience.pk), stdout=out
    )

    assert f"audience {audience.pk}: failed" in out.getvalue()
    assert "Renew the access token" in out.getvalue()


def test_command_unknown_audience_rejected(platforms):
    with pytest.raises(CommandError, match="No audience with id 4242"):
        call_command("omnichannel_sync_audiences", "--audience", "4242")


def test_command_installs_schedule():
    out = StringIO()

    call_command(
        "omnichannel_sync_audiences", "--install-schedule", "--every", "5", stdout=out
    )

    assert PeriodicTask.objects.get(name=BEAT_ENTRY).interval.every == 300
    assert "Installed periodic task" in out.getvalue()
    with pytest.raises(CommandError, match="at least 1 minute"):
        call_command("omnichannel_sync_audiences", "--install-schedule", "--every", "0")
