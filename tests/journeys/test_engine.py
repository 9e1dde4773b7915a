from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from omnichannel.journeys.engine import enroll, next_local_time, run_due
from omnichannel.journeys.graph import InvalidGraph, validate_graph
from omnichannel.journeys.models import Enrollment, Journey, StepRun
from omnichannel.journeys.services import publish, set_status
from omnichannel.profiles.services import identify, track
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)

TAG_AFTER_HOUR = {
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "PT1H", "next": "tag"},
        "tag": {"type": "update_profile", "add_tags": ["reached"]},
    },
}


@pytest.fixture
def profile():
    return identify(email="zoe.sample@example.com")


def test_wait_then_step_runs_at_due_time(profile):
    journey = make_journey(TAG_AFTER_HOUR)
    enrollment = enroll(journey, profile, at=T0)

    run_due(T0 + timedelta(minutes=59))
    profile.refresh_from_db()
    assert profile.tags == []

    run_due(T0 + timedelta(hours=1))
    profile.refresh_from_db()
    enrollment.refresh_from_db()
    assert profile.tags == ["reached"]
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert enrollment.next_run_at is None


def test_run_due_twice_does_not_repeat_steps(profile):
    journey = make_journey(TAG_AFTER_HOUR)
    enroll(journey, profile, at=T0)
    assert run_due(T0 + timedelta(hours=2)) == 1
    assert run_due(T0 + timedelta(hours=2)) == 0
    assert StepRun.objects.filter(step_key="tag", outcome="done").count() == 1


def test_goal_event_ends_run_at_once(profile):
    journey = make_journey(
        TAG_AFTER_HOUR, goal={"events": ["order_placed"]}, trigger_type="manual"
    )
    enrollment = enroll(journey, profile, at=T0)
    track(
        "order_placed",
        profile=profile,
        occurred_at=T0 + timedelta(minutes=30),
        object_type="order",
        object_id="1",
    )
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.CONVERTED
    assert enrollment.exit_reason == "goal_reached"
    run_due(T0 + timedelta(hours=2))
    profile.refresh_from_db()
    assert profile.tags == []


def test_late_goal_event_stops_run_at_next_step(profile):
    # The order happened before the step fell due but reached the app later; the
    # goal check at the next step sees it because it compares event times.
    journey = make_journey(TAG_AFTER_HOUR, goal={"events": ["order_placed"]})
    enrollment = enroll(journey, profile, at=T0)
    track(
        "order_placed",
        profile=profile,
        occurred_at=T0 + timedelta(minutes=5),
        object_type="order",
        object_id="2",
    )
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.CONVERTED


def test_event_trigger_with_property_filter(profile):
    journey = make_journey(
        TAG_AFTER_HOUR,
        trigger_type="event",
        trigger_config={"event": "product_viewed", "properties": {"category": "Mugs"}},
    )
    track("product_viewed", profile=profile, properties={"category": "Jackets"})
    assert journey.enrollments.count() == 0
    track("product_viewed", profile=profile, properties={"category": "Mugs"})
    assert journey.enrollments.count() == 1


def test_keyed_journey_restarts_timer_on_same_object(profile):
    graph = {
        "start": "wait",
        "steps": {
            "wait": {
                "type": "wait",
                "duration": "PT1H",
                "anchor": "trigger",
                "next": "tag",
            },
            "tag": {"type": "update_profile", "add_tags": ["reminded"]},
        },
    }
    journey = make_journey(
        graph,
        trigger_type="event",
        trigger_config={"event": "cart_updated"},
        keyed_by_object=True,
    )
    track(
        "cart_updated",
        profile=profile,
        occurred_at=T0,
        object_type="cart",
        object_id="7",
        properties={"lines": [1]},
    )
    run_due(T0)
    track(
        "cart_updated",
        profile=profile,
        occurred_at=T0 + timedelta(minutes=40),
        object_type="cart",
        object_id="7",
        properties={"lines": [1, 2]},
    )
    enrollment = journey.enrollments.get()
    assert enrollment.next_run_at == T0 + timedelta(minutes=100)
    assert journey.enrollments.count() == 1
    track(
        "cart_updated",
        profile=profile,
        occurred_at=T0,
        object_type="cart",
        object_id="8",
        properties={"lines": [3]},
    )
    assert journey.enrollments.count() == 2


def test_branch_on_purchase_since_entry(profile):
    graph = {
        "start": "wait",
        "steps": {
            "wait": {"type": "wait", "duration": "P1D", "next": "check"},
            "check": {
                "type": "branch",
                "condition": {"type": "purchased_since_entry"},
                "yes": "buyer",
                "no": "browser",
            },
            "buyer": {"type": "update_profile", "add_tags": ["buyer"]},
            "browser": {"type": "update_profile", "add_tags": ["browser"]},
        },
    }
    journey = make_journey(graph)
    enroll(journey, profile, at=T0)
    track(
        "order_placed",
        profile=profile,
        occurred_at=T0 + timedelta(hours=3),
        object_type="order",
        object_id="3",
    )
    other = identify(email="other@example.com")
    enroll(journey, other, at=T0)

    run_due(T0 + timedelta(days=1))
    profile.refresh_from_db()
    other.refresh_from_db()
    assert profile.tags == ["buyer"]
    assert other.tags == ["browser"]


def test_split_is_deterministic_and_weighted():
    graph = {
        "start": "split",
        "steps": {
            "split": {
                "type": "split",
                "control_weight": 20,
                "variants": [
                    {"key": "a", "weight": 40, "next": "a"},
                    {"key": "b", "weight": 40, "next": "b"},
                ],
            },
            "a": {"type": "update_profile", "add_tags": ["a"]},
            "b": {"type": "update_profile", "add_tags": ["b"]},
        },
    }
    journey = make_journey(graph, reentry_policy="always")
    profiles = [identify(email=f"p{i}@example.com") for i in range(300)]
    for profile in profiles:
        enroll(journey, profile, at=T0)
    run_due(T0)
    runs = dict(Enrollment.objects.values_list("profile_id", "context__splits__split"))
    counts = {key: list(runs.values()).count(key) for key in ("a", "b", "control")}
    assert sum(counts.values()) == 300
    assert 90 <= counts["a"] <= 150
    assert 90 <= counts["b"] <= 150
    assert 30 <= counts["control"] <= 90
    assert (
        Enrollment.objects.filter(exit_reason="control_group").count()
        == counts["control"]
    )
    # The same profile lands in the same variant on a second run.
    first = profiles[0]
    again = enroll(journey, first, at=T0 + timedelta(days=1))
    run_due(T0 + timedelta(days=1))
    again.refresh_from_db()
    assert again.context["splits"]["split"] == runs[first.pk]


@pytest.mark.parametrize(
    ("policy", "days", "expected"),
    [("never", 0, 1), ("after_days", 60, 1), ("always", 0, 2)],
)
def test_reentry_policy(profile, policy, days, expected):
    journey = make_journey(TAG_AFTER_HOUR, reentry_policy=policy, reentry_days=days)
    enroll(journey, profile, at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC))
    run_due(datetime(2026, 11, 2, tzinfo=UTC))
    enroll(journey, profile, at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    assert journey.enrollments.count() == expected


def test_active_run_blocks_second_enrollment(profile):
    journey = make_journey(TAG_AFTER_HOUR, reentry_policy="always")
    assert enroll(journey, profile, at=T0) is not None
    assert enroll(journey, profile, at=T0) is None


def test_new_version_leaves_runs_in_flight(profile):
    journey = make_journey(TAG_AFTER_HOUR, reentry_policy="always")
    first = enroll(journey, profile, at=T0)
    journey.draft_graph = {
        "start": "tag",
        "steps": {"tag": {"type": "update_profile", "add_tags": ["v2"]}},
    }
    journey.save()
    publish(journey)
    other = identify(email="other@example.com")
    second = enroll(journey, other, at=T0)
    run_due(T0 + timedelta(hours=1))
    profile.refresh_from_db()
    other.refresh_from_db()
    assert first.version.number == 1
    assert second.version.number == 2
    assert profile.tags == ["reached"]
    assert other.tags == ["v2"]


def test_paused_journey_holds_runs(profile):
    journey = make_journey(TAG_AFTER_HOUR)
    enroll(journey, profile, at=T0)
    set_status(journey, Journey.Status.PAUSED)
    run_due(T0 + timedelta(hours=2))
    profile.refresh_from_db()
    assert profile.tags == []
    set_status(journey, Journey.Status.ACTIVE)
    run_due(T0 + timedelta(hours=2))
    profile.refresh_from_db()
    assert profile.tags == ["reached"]


def test_archive_ends_runs(profile):
    journey = make_journey(TAG_AFTER_HOUR)
    enrollment = enroll(journey, profile, at=T0)
    set_status(journey, Journey.Status.ARCHIVED)
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == "journey_archived"


def test_wait_until_time_in_customer_zone():
    tokyo = ZoneInfo("Asia/Tokyo")
    due = next_local_time(
        datetime(2026, 12, 4, 17, 30, tzinfo=UTC), datetime(2000, 1, 1, 9).time(), tokyo
    )
    assert due == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("graph", "path"),
    [
        ({}, "steps"),
        ({"start": "x", "steps": {"a": {"type": "exit"}}}, "start"),
        ({"start": "a", "steps": {"a": {"type": "jump"}}}, "steps.a.type"),
        (
            {"start": "a", "steps": {"a": {"type": "wait", "duration": "soon"}}},
            "steps.a.duration",
        ),
        (
            {
                "start": "a",
                "steps": {"a": {"type": "send", "channel": "fax", "template": "t"}},
            },
            "steps.a.channel",
        ),
        (
            {
                "start": "a",
                "steps": {"a": {"type": "wait", "duration": "PT1H", "next": "b"}},
            },
            "steps.a.next",
        ),
        (
            {
                "start": "a",
                "steps": {
                    "a": {"type": "update_profile", "next": "b"},
                    "b": {"type": "update_profile", "next": "a"},
                },
            },
            "steps.a",
        ),
        (
            {
                "start": "a",
                "steps": {
                    "a": {"type": "split", "variants": [{"key": "x", "weight": -1}]}
                },
            },
            "steps.a.variants[0].weight",
        ),
        (
            {
                "start": "a",
                "steps": {
                    "a": {
                        "type": "branch",
                        "condition": {"type": "message", "step": "e", "action": "read"},
                        "yes": "a",
                        "no": "a",
                    }
                },
            },
            "steps.a.condition.action",
        ),
    ],
)
def test_invalid_graph_names_path(graph, path):
    with pytest.raises(InvalidGraph) as raised:
        validate_graph(graph)
    assert raised.value.path == path


def test_publish_rejects_invalid_draft_and_keeps_version(profile):
    journey = make_journey(TAG_AFTER_HOUR)
    journey.draft_graph = {"start": "nope", "steps": {"a": {"type": "exit"}}}
    journey.save()
    with pytest.raises(InvalidGraph):
        publish(journey)
    journey.refresh_from_db()
    assert journey.current_version.number == 1
    assert journey.versions.count() == 1


def test_churn_risk_crossing_enrolls(profile):
    from omnichannel.predictions.models import CustomerPrediction
    from omnichannel.predictions.signals import (
        churn_risk_crossed,
        churn_risk_thresholds,
    )

    journey = make_journey(
        TAG_AFTER_HOUR, trigger_type="churn_risk", trigger_config={"threshold": 0.7}
    )
    assert 0.7 in churn_risk_thresholds()
    for previous, current in ((0.5, 0.6), (0.8, 0.75), (0.6, 0.72)):
        churn_risk_crossed.send(
            sender=CustomerPrediction,
            profile=profile,
            previous=previous,
            current=current,
            threshold=0.7,
        )
    assert journey.enrollments.count() == 1
    assert journey.enrollments.get().context["trigger"]["risk"] == 0.72
