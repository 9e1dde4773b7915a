from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omnichannel.consent.services import record_consent
from omnichannel.predictions.models import CustomerPrediction, RFMScore
from omnichannel.predictions.rfm import score_all
from omnichannel.profiles.models import Event, Profile
from omnichannel.profiles.services import merge_profiles, track
from omnichannel.segments import membership, signals
from omnichannel.segments.membership import (
    add_members,
    matching_profiles,
    rebuild_segment,
    rebuild_segments,
    refresh_profile,
    remove_members,
)
from omnichannel.segments.models import Segment, SegmentMembership
from omnichannel.segments.tasks import rebuild_periodic_segments
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
GERMANS = {"type": "profile", "field": "country", "op": "eq", "value": "DE"}
BIG_SPENDERS = {
    "type": "aggregate",
    "measure": "total_spent",
    "op": "gte",
    "value": 100,
}
VIEWED_JACKETS = {
    "type": "event",
    "event": "category_viewed",
    "where": [{"property": "category", "op": "eq", "value": "Winter Jackets"}],
    "count": {"op": "gte", "value": 2},
    "within": {"value": 7, "unit": "days"},
}


@pytest.fixture
def received():
    """Collect the membership signals sent during a test."""
    log = []

    def entered(sender, segment, profile, at, **kwargs):
        log.append(("entered", segment.slug, profile.pk))

    def exited(sender, segment, profile, at, **kwargs):
        log.append(("exited", segment.slug, profile.pk))

    signals.segment_entered.connect(entered)
    signals.segment_exited.connect(exited)
    yield log
    signals.segment_entered.disconnect(entered)
    signals.segment_exited.disconnect(exited)


def make_segment(slug, rules, **fields):
    return Segment.objects.create(name=slug, slug=slug, rules=rules, **fields)


def open_members(segment):
    return set(
        SegmentMembership.objects.filter(
            segment=segment, exited_at__isnull=True
        ).values_list("profile_id", flat=True)
    )


def test_rebuild_opens_and_closes_memberships(django_capture_on_commit_callbacks):
    anna = ProfileFactory(country="DE")
    ben = ProfileFactory(country="FR")
    segment = make_segment("germans", GERMANS)

    change = rebuild_segment(segment, NOW)
    assert change.entered == [anna.pk]
    assert change.exited == []

    Profile.objects.filter(pk=anna.pk).update(country="AT")
    Profile.objects.filter(pk=ben.pk).update(country="DE")
    change = rebuild_segment(segment, NOW + timedelta(hours=1))

    assert change.entered == [ben.pk]
    assert change.exited == [anna.pk]
    assert open_members(segment) == {ben.pk}
    history = SegmentMembership.objects.get(segment=segment, profile=anna)
    assert history.entered_at == NOW
    assert history.exited_at == NOW + timedelta(hours=1)


def test_rebuild_without_changes_keeps_memberships():
    ProfileFactory(country="DE")
    segment = make_segment("germans", GERMANS)
    rebuild_segment(segment, NOW)
    before = list(
        SegmentMembership.objects.values_list("pk", "entered_at", "exited_at")
    )

    change = rebuild_segment(segment, NOW + timedelta(days=1))

    assert not change
    after = list(SegmentMembership.objects.values_list("pk", "entered_at", "exited_at"))
    assert after == before


def test_rebuild_writes_in_chunks(monkeypatch):
    monkeypatch.setattr(membership, "CHUNK_SIZE", 2)
    monkeypatch.setattr(membership, "ARRAY_CHUNK_SIZE", 2)
    first = [ProfileFactory(country="DE") for _ in range(5)]
    later = [ProfileFactory(country="FR") for _ in range(3)]
    segment = make_segment("germans", GERMANS)

    change = rebuild_segment(segment, NOW)
    assert change.entered == sorted(p.pk for p in first)

    leaving = [p.pk for p in first[:3]]
    Profile.objects.filter(pk__in=leaving).update(country="FR")
    Profile.objects.filter(pk__in=[p.pk for p in later]).update(country="DE")
    change = rebuild_segment(segment, NOW + timedelta(hours=1))

    assert change.entered == sorted(p.pk for p in later)
    assert change.exited == sorted(leaving)
    assert open_members(segment) == {p.pk for p in first[3:] + later}


def test_rebuild_signals_after_commit(django_capture_on_commit_callbacks, received):
    anna = ProfileFactory(country="DE")
    segment = make_segment("germans", GERMANS)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rebuild_segment(segment, NOW)
    assert received == []

    for callback in callbacks:
        callback()
    assert ("entered", "germans", anna.pk) in received


def test_rebuild_excludes_merged_and_erased_profiles():
    survivor = ProfileFactory(country="DE")
    loser = ProfileFactory(country="DE")
    erased = ProfileFactory(country="DE", erased_at=NOW)
    segment = make_segment("germans", GERMANS)
    rebuild_segment(segment, NOW)
    assert open_members(segment) == {survivor.pk, loser.pk}

    Profile.objects.filter(pk=loser.pk).update(merged_into=survivor)
    rebuild_segment(segment, NOW)

    assert open_members(segment) == {survivor.pk}
    assert erased.pk not in open_members(segment)


def test_rebuild_skips_inactive_segment():
    ProfileFactory(country="DE")
    segment = make_segment("germans", GERMANS, is_active=False)
    assert not rebuild_segment(segment, NOW)
    assert open_members(segment) == set()


def test_rebuild_records_duration():
    segment = make_segment("germans", GERMANS)
    rebuild_segment(segment, NOW)
    segment.refresh_from_db()
    assert segment.last_rebuilt_at == NOW
    assert segment.last_rebuild_seconds >= 0


def test_rebuild_segments_orders_dependencies():
    ProfileFactory(country="DE", total_spent=Decimal("150"))
    ProfileFactory(country="DE")
    germans = make_segment("germans", GERMANS)
    rich_germans = make_segment(
        "rich-germans",
        {"all": [{"type": "segment", "segment": "germans"}, BIG_SPENDERS]},
    )

    changes = rebuild_segments(["germans"], NOW)

    assert list(changes) == ["germans", "rich-germans"]
    assert len(open_members(germans)) == 2
    assert len(open_members(rich_germans)) == 1


def test_event_refreshes_profile_after_commit(
    django_capture_on_commit_callbacks, received
):
    anna = ProfileFactory()
    segment = make_segment("jacket-fans", VIEWED_JACKETS)

    with django_capture_on_commit_callbacks(execute=True):
        track(
            "category_viewed", profile=anna, properties={"category": "Winter Jackets"}
        )
    assert open_members(segment) == set()

    with django_capture_on_commit_callbacks(execute=True):
        track(
            "category_viewed", profile=anna, properties={"category": "Winter Jackets"}
        )
    assert open_members(segment) == {anna.pk}
    assert received == [("entered", "jacket-fans", anna.pk)]


def test_event_skips_unaffected_segments(django_capture_on_commit_callbacks):
    anna = ProfileFactory(country="DE")
    make_segment("germans", GERMANS)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        track("category_viewed", profile=anna, properties={"category": "Shoes"})

    # Nothing reads category_viewed or last_seen_at, so no refresh is queued.
    assert callbacks == []


def test_order_event_refreshes_aggregate_segment(django_capture_on_commit_callbacks):
    anna = ProfileFactory()
    segment = make_segment("big-spenders", BIG_SPENDERS)

    with django_capture_on_commit_callbacks(execute=True):
        track(
            "order_placed",
            profile=anna,
            revenue=Decimal("120.00"),
            object_type="order",
            object_id="1",
        )

    assert open_members(segment) == {anna.pk}


def test_refresh_query_count():
    anna = ProfileFactory(country="DE")
    make_segment("germans", GERMANS)
    make_segment("big-spenders", BIG_SPENDERS)
    make_segment("jacket-fans", VIEWED_JACKETS)
    refresh_profile(anna, now=NOW)

    with CaptureQueriesContext(connection) as queries:
        changes = refresh_profile(anna, fields=["country", "total_spent"], now=NOW)

    assert changes == []
    # The profile with its one-to-one rows, and its open memberships: one query on
    # PostgreSQL, where the memberships come as an array column, two elsewhere.
    expected = 1 if connection.vendor == "postgresql" else 2
    assert len(queries) == expected


def test_refresh_reads_open_memberships_only():
    anna = ProfileFactory(country="FR")
    germans = make_segment("germans", GERMANS)
    big_spenders = make_segment("big-spenders", BIG_SPENDERS)
    SegmentMembership.objects.create(
        segment=germans, profile=anna, entered_at=NOW - timedelta(days=9)
    )
    SegmentMembership.objects.create(
        segment=big_spenders,
        profile=anna,
        entered_at=NOW - timedelta(days=9),
        exited_at=NOW - timedelta(days=8),
    )

    changes = refresh_profile(anna, fields=["country", "total_spent"], now=NOW)

    # The open stay in germans is closed; the closed stay in big-spenders is left.
    assert [(c.segment_id, c.entered, c.exited) for c in changes] == [
        (germans.pk, [], [anna.pk])
    ]
    assert open_members(germans) == set()
    assert open_members(big_spenders) == set()
    assert SegmentMembership.objects.filter(segment=big_spenders).count() == 1


def test_refresh_of_missing_profile_changes_nothing():
    make_segment("germans", GERMANS)

    assert refresh_profile(987654, now=NOW) == []


def test_refresh_writes_changes_in_two_statements():
    anna = ProfileFactory(country="DE", total_spent=Decimal("150"))
    germans = make_segment("germans", GERMANS)
    make_segment("big-spenders", BIG_SPENDERS)
    refresh_profile(anna, now=NOW)
    Profile.objects.filter(pk=anna.pk).update(country="FR")

    with CaptureQueriesContext(connection) as queries:
        changes = refresh_profile(anna, fields=["country"], now=NOW)

    assert [(c.segment_id, c.exited) for c in changes] == [(germans.pk, [anna.pk])]
    writes = [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    assert len(writes) == 1


def test_refresh_evaluates_dependent_segment_in_same_pass():
    anna = ProfileFactory(country="DE", total_spent=Decimal("150"))
    make_segment("germans", GERMANS)
    rich_germans = make_segment(
        "rich-germans",
        {"all": [{"type": "segment", "segment": "germans"}, BIG_SPENDERS]},
    )

    refresh_profile(anna, fields=["country"], now=NOW)

    assert open_members(rich_germans) == {anna.pk}


def test_refresh_closes_memberships_of_merged_profile():
    anna = ProfileFactory(country="DE")
    other = ProfileFactory(country="DE")
    segment = make_segment("germans", GERMANS)
    rebuild_segment(segment, NOW)
    Profile.objects.filter(pk=other.pk).update(merged_into=anna)

    refresh_profile(other.pk, now=NOW)

    assert open_members(segment) == {anna.pk}


def test_merge_moves_and_refreshes_memberships(django_capture_on_commit_callbacks):
    survivor = ProfileFactory(email="anna@example.com")
    loser = ProfileFactory(country="DE")
    segment = make_segment("germans", GERMANS)
    rebuild_segment(segment, NOW)

    with django_capture_on_commit_callbacks(execute=True):
        merge_profiles(survivor, loser)

    # The survivor took the loser's country, so it stays a member on re-evaluation.
    assert open_members(segment) == {survivor.pk}


def test_consent_change_refreshes_consent_segment(django_capture_on_commit_callbacks):
    anna = ProfileFactory()
    segment = make_segment(
        "email-ok", {"type": "consent", "channel": "email", "state": "granted"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        record_consent(anna, "email", True)
    assert open_members(segment) == {anna.pk}

    with django_capture_on_commit_callbacks(execute=True):
        record_consent(anna, "email", False)
    assert open_members(segment) == set()


def test_saving_new_rules_rebuilds_segment(django_capture_on_commit_callbacks):
    anna = ProfileFactory(country="DE")
    with django_capture_on_commit_callbacks(execute=True):
        segment = make_segment("germans", GERMANS)
    assert open_members(segment) == {anna.pk}

    with django_capture_on_commit_callbacks(execute=True):
        segment.rules = {"not": GERMANS}
        segment.save()
    assert open_members(segment) == set()


def test_periodic_task_rebuilds_time_dependent_segments():
    anna = ProfileFactory(last_order_at=NOW - timedelta(days=20))
    lapsed = make_segment(
        "lapsed",
        {
            "type": "aggregate",
            "measure": "days_since_last_order",
            "op": "gt",
            "value": 30,
        },
    )
    germans = make_segment("germans", GERMANS)
    assert lapsed.rebuild_periodically
    assert not germans.rebuild_periodically

    with time_machine.travel(NOW, tick=False):
        rebuild_periodic_segments.delay()
    assert open_members(lapsed) == set()

    # No event at all: eleven days pass and the last order is now 31 days ago.
    with time_machine.travel(NOW + timedelta(days=11), tick=False):
        result = rebuild_periodic_segments.delay().get()
    assert open_members(lapsed) == {anna.pk}
    assert "germans" not in result


def test_nightly_rfm_rescoring_keeps_champions_membership():
    # A customer stays in Champions through nightly rescoring: no exit, no new entry.
    customers = [
        Profile.objects.create(
            order_count=orders,
            total_spent=Decimal(orders * 100),
            last_order_at=NOW - timedelta(days=10 - orders),
        )
        for orders in range(1, 6)
    ]
    champion = customers[-1]
    segment = make_segment(
        "rfm-champions",
        {"type": "rfm", "field": "group", "op": "eq", "value": "champions"},
    )
    score_all(NOW)
    rebuild_segment(segment, NOW)
    first = SegmentMembership.objects.get(segment=segment, profile=champion)

    for night in range(1, 4):
        score_all(NOW + timedelta(days=night))
        change = rebuild_segment(segment, NOW + timedelta(days=night))
        assert champion.pk not in change.entered
        assert champion.pk not in change.exited

    assert (
        SegmentMembership.objects.filter(segment=segment, profile=champion).count() == 1
    )
    assert SegmentMembership.objects.get(pk=first.pk).exited_at is None


def test_matching_profiles_counts_current_set():
    ProfileFactory(country="DE")
    ProfileFactory(country="FR")
    assert matching_profiles(GERMANS, NOW).count() == 1


def test_rebuild_segments_skips_broken_rule():
    ProfileFactory(country="DE")
    broken = make_segment("broken", GERMANS)
    germans = make_segment("germans", GERMANS)
    Segment.objects.filter(pk=broken.pk).update(rules={"type": "unregistered"})

    changes = rebuild_segments(now=NOW)

    assert list(changes) == ["germans"]
    assert len(open_members(germans)) == 1


def test_refresh_skips_broken_rule():
    anna = ProfileFactory(country="DE")
    broken = make_segment("broken", GERMANS)
    germans = make_segment("germans", GERMANS)
    Segment.objects.filter(pk=broken.pk).update(rules={"type": "unregistered"})
    from omnichannel.segments.index import invalidate_index

    invalidate_index()
    refresh_profile(anna, now=NOW)

    assert open_members(germans) == {anna.pk}


def test_champions_drift_history_and_signals(
    django_capture_on_commit_callbacks, received
):
    # Nightly RFM at 03:00 Europe/Berlin, each followed by a rebuild: Champions from
    # 1 November, Loyal from 20 November, Champions again from 1 December.
    berlin = ZoneInfo("Europe/Berlin")
    drop = datetime(2026, 11, 20, 3, 0, tzinfo=berlin)
    back = datetime(2026, 12, 1, 3, 0, tzinfo=berlin)
    segment = make_segment(
        "rfm-champions",
        {"type": "rfm", "field": "group", "op": "eq", "value": "champions"},
    )
    anna = ProfileFactory()
    RFMScore.objects.create(
        profile=anna, recency_score=5, frequency_score=5, monetary_score=5, group="lost"
    )

    for day in range(31):
        night = datetime(2026, 11, 1, 3, 0, tzinfo=berlin) + timedelta(days=day)
        group = "loyal" if drop <= night < back else "champions"
        RFMScore.objects.filter(profile=anna).update(group=group, scored_at=night)
        with django_capture_on_commit_callbacks(execute=True):
            rebuild_segment(segment, night)

    assert received == [
        ("entered", "rfm-champions", anna.pk),
        ("exited", "rfm-champions", anna.pk),
        ("entered", "rfm-champions", anna.pk),
    ]
    history = list(
        SegmentMembership.objects.filter(segment=segment)
        .order_by("entered_at")
        .values_list("entered_at", "exited_at")
    )
    assert history == [
        (datetime(2026, 11, 1, 3, 0, tzinfo=berlin), drop),
        (back, None),
    ]


def test_prediction_segment_follows_periodic_rebuild():
    anna = ProfileFactory()
    CustomerPrediction.objects.create(profile=anna, churn_risk=0.4)
    segment = make_segment(
        "churning",
        {"type": "prediction", "field": "churn_risk", "op": "gte", "value": 0.7},
    )
    assert segment.rebuild_periodically
    rebuild_periodic_segments.delay()
    assert open_members(segment) == set()

    CustomerPrediction.objects.filter(profile=anna).update(churn_risk=0.8)
    rebuild_periodic_segments.delay()

    assert open_members(segment) == {anna.pk}


def test_manual_segment_members_by_hand(django_capture_on_commit_callbacks, received):
    anna = ProfileFactory(country="DE")
    ben = ProfileFactory()
    merged = ProfileFactory(merged_into=anna)
    imported = Segment.objects.create(name="Imported list", slug="imported")
    assert imported.is_manual

    with django_capture_on_commit_callbacks(execute=True):
        change = add_members(imported, [anna.pk, ben.pk, merged.pk, anna.pk])
    assert change.entered == [anna.pk, ben.pk]
    assert add_members(imported, [anna.pk]).entered == []

    # Rebuilds and refreshes leave a segment without a rule alone.
    assert not rebuild_segment(imported, NOW)
    refresh_profile(ben, now=NOW)
    assert open_members(imported) == {anna.pk, ben.pk}

    with django_capture_on_commit_callbacks(execute=True):
        removed = remove_members(imported, [ben.pk])
    assert removed.exited == [ben.pk]
    assert open_members(imported) == {anna.pk}
    assert ("exited", "imported", ben.pk) in received


def test_add_members_rejects_rule_segment():
    germans = make_segment("germans", GERMANS)
    with pytest.raises(ValueError, match="has a rule"):
        add_members(germans, [1])


def test_refresh_with_event_rule_query_count():
    anna = ProfileFactory(country="DE")
    make_segment("germans", GERMANS)
    make_segment("jacket-fans", VIEWED_JACKETS)
    refresh_profile(anna, now=NOW)

    with CaptureQueriesContext(connection) as queries:
        changes = refresh_profile(anna, "category_viewed", fields=["country"], now=NOW)

    assert changes == []
    # On PostgreSQL the events in the rules' windows come with the profile as well.
    expected = 1 if connection.vendor == "postgresql" else 3
    assert len(queries) == expected


def test_refresh_reads_events_of_the_window():
    anna = ProfileFactory()
    segment = make_segment("jacket-fans", VIEWED_JACKETS)
    for days in (1, 2):
        Event.objects.create(
            profile=anna,
            name="category_viewed",
            occurred_at=NOW - timedelta(days=days),
            properties={"category": "Winter Jackets"},
        )

    refresh_profile(anna, "category_viewed", now=NOW)
    assert open_members(segment) == {anna.pk}

    refresh_profile(anna, "category_viewed", now=NOW + timedelta(days=30))
    assert open_members(segment) == set()


def test_rebuild_of_rule_matching_nobody_closes_all():
    anna = ProfileFactory(country="DE")
    segment = make_segment("germans", GERMANS)
    rebuild_segment(segment, NOW)
    Segment.objects.filter(pk=segment.pk).update(rules={"any": []})
    segment.refresh_from_db()

    change = rebuild_segment(segment, NOW + timedelta(hours=1))

    assert change.exited == [anna.pk]
    assert open_members(segment) == set()
