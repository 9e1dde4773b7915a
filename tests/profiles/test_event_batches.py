"""A batch of events reaches the receivers as one list: journeys, segments, signals."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from omnichannel.journeys.engine import clear_interest_cache, enroll
from omnichannel.journeys.models import Enrollment
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify
from omnichannel.profiles.signals import events_tracked
from omnichannel.segments.models import Segment, SegmentMembership
from tests.factories import api_key
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

BATCH = "/omnichannel/api/events/batch/"
TAG = {
    "start": "tag",
    "steps": {"tag": {"type": "update_profile", "add_tags": ["seen"]}},
}
WAIT_FOR_ORDER = {
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "P1D", "next": "tag"},
        "tag": {"type": "update_profile", "add_tags": ["reminded"]},
    },
}


@pytest.fixture
def writer():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('events:write')}")
    return client


@pytest.fixture(autouse=True)
def _fresh_interests():
    clear_interest_cache()
    yield
    clear_interest_cache()


def views(count, *, name="page_viewed", start=0, customers=5, **extra):
    return [
        {
            "event": name,
            "email": f"customer{i % customers}@example.com",
            "properties": {"path": f"/p/{i}/"},
            "idempotency_key": f"{name}-{i}",
            **extra,
        }
        for i in range(start, start + count)
    ]


def post(writer, events):
    response = writer.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_batch_sends_events_tracked_once(writer):
    calls = []

    def receiver(sender, events, **kwargs):
        calls.append([event.name for event in events])

    events_tracked.connect(receiver, dispatch_uid="test-batch-once")
    try:
        post(writer, views(12))
    finally:
        events_tracked.disconnect(dispatch_uid="test-batch-once")
    assert len(calls) == 1
    assert calls[0] == ["page_viewed"] * 12


def test_track_sends_events_tracked_with_one_event():
    from omnichannel.profiles.services import track

    calls = []

    def receiver(sender, events, **kwargs):
        calls.append(len(events))

    events_tracked.connect(receiver, dispatch_uid="test-track-once")
    try:
        track("page_viewed", email="solo@example.com")
    finally:
        events_tracked.disconnect(dispatch_uid="test-track-once")
    assert calls == [1]


def test_batch_query_count_does_not_grow_with_events(writer):
    make_journey(
        TAG,
        slug="on-order",
        trigger_type="event",
        trigger_config={"event": "order_placed"},
    )
    Segment.objects.create(
        name="Viewers",
        slug="viewers",
        rules={"type": "event", "event": "page_viewed"},
    )
    post(writer, views(5))  # creates the five profiles and warms the caches

    with CaptureQueriesContext(connection) as small:
        post(writer, views(10, start=100))
    with CaptureQueriesContext(connection) as large:
        # 80 events stay within one INSERT on SQLite, whose statements take at
        # most 999 parameters.
        post(writer, views(80, start=1000))

    assert len(large.captured_queries) == len(small.captured_queries)


def test_batch_enrolls_only_matching_events(writer):
    journey = make_journey(
        TAG,
        slug="mugs",
        trigger_type="event",
        trigger_config={"event": "product_viewed", "properties": {"category": "Mugs"}},
    )
    events = views(6, name="product_viewed", customers=6)
    for index, event in enumerate(events):
        event["properties"] = {"category": "Mugs" if index % 3 == 0 else "Hats"}

    post(writer, events)

    enrolled = set(journey.enrollments.values_list("profile__email", flat=True))
    assert enrolled == {"customer0@example.com", "customer3@example.com"}


def test_batch_goal_event_ends_run(writer):
    profile = identify(email="customer0@example.com")
    other = identify(email="customer1@example.com")
    journey = make_journey(
        WAIT_FOR_ORDER, slug="nudge", goal={"events": ["order_placed"]}
    )
    run = enroll(journey, profile, at=timezone.now() - timedelta(hours=1))
    untouched = enroll(journey, other, at=timezone.now() - timedelta(hours=1))

    post(
        writer,
        [
            *views(3),
            {
                "event": "order_placed",
                "email": "customer0@example.com",
                "revenue": "12.00",
                "object_type": "order",
                "object_id": "A1",
            },
        ],
    )

    run.refresh_from_db()
    untouched.refresh_from_db()
    assert run.status == Enrollment.Status.CONVERTED
    assert run.exit_reason == "goal_reached"
    assert untouched.status == Enrollment.Status.ACTIVE


def test_batch_trigger_then_goal_in_same_batch(writer):
    journey = make_journey(
        WAIT_FOR_ORDER,
        slug="cart",
        trigger_type="event",
        trigger_config={"event": "cart_updated"},
        goal={"events": ["order_placed"]},
    )
    now = timezone.now()
    post(
        writer,
        [
            {
                "event": "cart_updated",
                "email": "customer0@example.com",
                "occurred_at": (now - timedelta(minutes=2)).isoformat(),
            },
            {
                "event": "order_placed",
                "email": "customer0@example.com",
                "occurred_at": (now - timedelta(minutes=1)).isoformat(),
                "revenue": "30.00",
                "object_type": "order",
                "object_id": "B2",
            },
        ],
    )

    run = journey.enrollments.get()
    assert run.status == Enrollment.Status.CONVERTED


def test_batch_refreshes_segment_of_each_profile(writer, on_commit):
    segment = Segment.objects.create(
        name="Viewers",
        slug="viewers",
        rules={"type": "event", "event": "page_viewed"},
    )

    with on_commit() as callbacks:
        post(writer, views(9, customers=3))

    names = [getattr(c, "__qualname__", "") for c in callbacks]
    refreshes = [name for name in names if "schedule_refreshes" in name]
    assert len(refreshes) == 1

    members = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    assert members.count() == 3


def test_import_source_events_do_not_move_last_seen(writer):
    post(writer, views(1, source="import", occurred_at="2026-01-01T00:00:00Z"))

    event = Event.objects.get()
    event.profile.refresh_from_db()
    assert event.profile.last_seen_at is None


def test_batch_message_sent_keeps_last_seen(writer):
    post(writer, views(1, name="message_sent", occurred_at="2026-01-01T00:00:00Z"))

    event = Event.objects.get()
    event.profile.refresh_from_db()
    assert event.profile.last_seen_at is None


def test_batch_message_clicked_moves_last_seen(writer):
    post(writer, views(1, name="message_clicked", occurred_at="2026-01-01T00:00:00Z"))

    event = Event.objects.get()
    event.profile.refresh_from_db()
    assert event.profile.last_seen_at.isoformat() == "2026-01-01T00:00:00+00:00"
