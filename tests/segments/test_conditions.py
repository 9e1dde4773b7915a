from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jsonschema
import pytest
from django.core.exceptions import ValidationError
from django.db.models import F, Q

from omnichannel.consent.models import ConsentRecord
from omnichannel.exceptions import InvalidRule, OmnichannelError, SegmentInUse
from omnichannel.profiles.models import Event, Profile
from omnichannel.segments.conditions import (
    ConditionType,
    Dependencies,
    Outcome,
    compile_rule,
    dependencies,
    describe,
    evaluate,
    explain,
    register,
    rule_schema,
    unregister,
    validate,
)
from omnichannel.segments.models import Segment
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def matches(rule, profile, now=NOW):
    """Return the compiled and the evaluated result for one profile."""
    compiled = Profile.objects.filter(compile_rule(rule, now), pk=profile.pk).exists()
    fresh = Profile.objects.get(pk=profile.pk)
    return compiled, evaluate(rule, fresh, now)


INVALID_RULES = [
    ([], "rule", "must be an object"),
    ({}, "rule", "must have a 'type'"),
    ({"all": {}}, "all", "must be a list"),
    ({"all": [], "any": []}, "any", "cannot stand beside 'all'"),
    ({"all": [{"type": "nope"}]}, "all[0].type", "is not a condition type"),
    ({"not": 5}, "not", "must be an object"),
    (
        {"all": [{}, {"type": "profile", "field": "country", "op": "eq"}]},
        "all[0]",
        "must have a 'type'",
    ),
    (
        {"all": [{"type": "profile", "field": "country", "op": "eq"}]},
        "all[0].value",
        "is required",
    ),
    (
        {"any": [{"type": "profile", "field": "country", "op": "gt", "value": "DE"}]},
        "any[0].op",
        "is not one of",
    ),
    (
        {"type": "profile", "field": "shoe", "op": "eq", "value": "x"},
        "field",
        "is not one of",
    ),
    (
        {"type": "profile", "field": "country", "op": "eq", "value": "DE", "vaule": 1},
        "vaule",
        "is not a known key",
    ),
    (
        {"type": "profile", "field": "country", "op": "is_set", "value": "DE"},
        "value",
        "is not used with operator",
    ),
    (
        {"type": "profile", "field": "country", "op": "in", "value": []},
        "value",
        "must not be empty",
    ),
    (
        {"type": "profile", "field": "country", "op": "in", "value": ["DE", 3]},
        "value[1]",
        "must be a string",
    ),
    (
        {
            "type": "profile",
            "field": "created_at",
            "op": "before",
            "value": "2026-13-01",
        },
        "value",
        "is not a date",
    ),
    (
        {
            "type": "profile",
            "field": "created_at",
            "op": "before",
            "value": "2026-01-01T10:00:00",
        },
        "value",
        "UTC offset",
    ),
    (
        {"type": "aggregate", "measure": "order_count", "op": "gte", "value": 1.5},
        "value",
        "whole number",
    ),
    (
        {"type": "aggregate", "measure": "total_spent", "op": "gte", "value": "100"},
        "value",
        "must be a number",
    ),
    (
        {"type": "aggregate", "measure": "total_spent", "op": "gte", "value": True},
        "value",
        "must be a number",
    ),
    (
        {
            "type": "aggregate",
            "measure": "total_spent",
            "op": "between",
            "value": [5, 1],
        },
        "value",
        "above the high end",
    ),
    (
        {"type": "aggregate", "measure": "total_spent", "op": "gte", "value": 1e300},
        "value",
        "must be between",
    ),
    (
        {"type": "attribute", "key": "a.b", "op": "eq", "value": "x"},
        "key",
        "not a valid key",
    ),
    (
        {"type": "attribute", "key": "size", "op": "gt", "value": "M"},
        "value",
        "must be a number",
    ),
    ({"type": "event", "event": "viewed_thing"}, "event", "is not one of"),
    (
        {
            "type": "event",
            "event": "page_viewed",
            "within": {"value": 0, "unit": "days"},
        },
        "within.value",
        "must be at least 1",
    ),
    (
        {
            "type": "event",
            "event": "page_viewed",
            "within": {"value": 1, "unit": "years"},
        },
        "within.unit",
        "is not one of",
    ),
    (
        {
            "type": "event",
            "event": "page_viewed",
            "within": {"value": 1, "unit": "days"},
            "excluding_last": {"value": 24, "unit": "hours"},
        },
        "excluding_last",
        "must be shorter",
    ),
    (
        {"type": "event", "event": "page_viewed", "count": {"op": "gte", "value": -1}},
        "count.value",
        "must be at least 0",
    ),
    (
        {
            "type": "event",
            "event": "page_viewed",
            "where": [{"property": "category", "op": "eq"}],
        },
        "where[0].value",
        "is required",
    ),
    (
        {"type": "event", "event": "page_viewed", "where": "x"},
        "where",
        "must be a list",
    ),
    (
        {"type": "rfm", "field": "group", "op": "eq", "value": "heroes"},
        "value",
        "is not one of",
    ),
    (
        {"type": "rfm", "field": "recency_score", "op": "gte", "value": 6},
        "value",
        "at most 5",
    ),
    (
        {"type": "consent", "channel": "pigeon", "state": "granted"},
        "channel",
        "is not one of",
    ),
    (
        {"type": "consent", "channel": "email", "state": "maybe"},
        "state",
        "is not one of",
    ),
    ({"type": "segment", "segment": "gone"}, "segment", "no segment has the slug"),
]


@pytest.mark.parametrize(("rule", "path", "fragment"), INVALID_RULES)
def test_validate_names_path(rule, path, fragment):
    with pytest.raises(InvalidRule) as caught:
        validate(rule)
    assert caught.value.path == ("" if path == "rule" else path)
    assert str(caught.value).startswith(f"{path}: ")
    assert fragment in caught.value.message


def test_invalid_rule_is_value_error():
    with pytest.raises(ValueError):
        validate({"all": 1})
    with pytest.raises(OmnichannelError):
        validate({"all": 1})


def test_validate_rejects_deep_nesting():
    rule = {"type": "profile", "field": "country", "op": "eq", "value": "DE"}
    for _ in range(12):
        rule = {"not": rule}
    with pytest.raises(InvalidRule, match="deeper than"):
        validate(rule)


def test_validate_accepts_empty_groups():
    validate({"all": []})
    validate({"any": []})


def test_empty_groups_match_everyone_and_nobody():
    anna = ProfileFactory()
    assert matches({"all": []}, anna) == (True, True)
    assert matches({"any": []}, anna) == (False, False)
    assert matches({"not": {"any": []}}, anna) == (True, True)


def test_segment_self_reference_rejected():
    segment = Segment(name="A", slug="a", rules={"type": "segment", "segment": "a"})
    with pytest.raises(InvalidRule, match="cannot refer to itself"):
        segment.save()


def test_segment_cycle_rejected():
    Segment.objects.create(name="A", slug="a")
    b = Segment.objects.create(
        name="B", slug="b", rules={"all": [{"type": "segment", "segment": "a"}]}
    )
    a = Segment.objects.get(slug="a")
    a.rules = {"any": [{"type": "segment", "segment": "b"}]}

    with pytest.raises(InvalidRule) as caught:
        a.save()

    assert caught.value.path == "any[0].segment"
    assert "a -> b -> a" in caught.value.message
    b.refresh_from_db()
    assert Segment.objects.get(slug="a").rules == {}


def test_segment_clean_reports_rules_field():
    segment = Segment(name="A", slug="a", rules={"all": [{"type": "x"}]})
    with pytest.raises(ValidationError) as caught:
        segment.full_clean()
    assert "all[0].type" in caught.value.message_dict["rules"][0]


def test_segment_rename_updates_references():
    a = Segment.objects.create(name="A", slug="a")
    b = Segment.objects.create(
        name="B", slug="b", rules={"not": {"type": "segment", "segment": "a"}}
    )
    a.slug = "a-new"
    a.save()
    b.refresh_from_db()
    assert b.rules == {"not": {"type": "segment", "segment": "a-new"}}


def test_segment_delete_blocked_while_referenced():
    a = Segment.objects.create(name="A", slug="a")
    Segment.objects.create(
        name="B", slug="b", rules={"type": "segment", "segment": "a"}
    )
    with pytest.raises(SegmentInUse, match="used by the rules of b"):
        a.delete()
    assert Segment.objects.filter(slug="a").exists()


def test_profile_text_comparisons_are_exact():
    anna = ProfileFactory(first_name="Zoë", email="zoe@example.com")
    for op, value, expected in [
        ("eq", "Zoë", True),
        ("eq", "zoë", False),
        ("contains", "oë", True),
        ("contains", "OË", False),
        ("starts_with", "Zo", True),
        ("ends_with", "ë", True),
        ("not_contains", "x", True),
    ]:
        rule = {"type": "profile", "field": "first_name", "op": op, "value": value}
        assert matches(rule, anna) == (expected, expected), (op, value)
    like = {"type": "profile", "field": "email", "op": "contains", "value": "%"}
    assert matches(like, anna) == (False, False)


def test_missing_dates_fail_comparisons_and_pass_negations():
    anna = ProfileFactory(last_order_at=None)
    lapsed = {
        "type": "aggregate",
        "measure": "days_since_last_order",
        "op": "gt",
        "value": 30,
    }
    assert matches(lapsed, anna) == (False, False)
    assert matches({"not": lapsed}, anna) == (True, True)
    ne = {
        "type": "aggregate",
        "measure": "days_since_last_order",
        "op": "ne",
        "value": 3,
    }
    assert matches(ne, anna) == (True, True)


def test_days_since_boundaries():
    anna = ProfileFactory(last_order_at=NOW - timedelta(days=30))
    rule = {
        "type": "aggregate",
        "measure": "days_since_last_order",
        "op": "gte",
        "value": 30,
    }
    assert matches(rule, anna) == (True, True)
    rule["op"] = "gt"
    assert matches(rule, anna) == (False, False)
    rule["op"] = "eq"
    assert matches(rule, anna) == (True, True)
    just_short = ProfileFactory(
        last_order_at=NOW - timedelta(days=30) + timedelta(seconds=1)
    )
    assert matches(rule, just_short) == (False, False)


def test_event_window_includes_its_start():
    anna = ProfileFactory()
    Event.objects.create(
        profile=anna, name="page_viewed", occurred_at=NOW - timedelta(days=7)
    )
    Event.objects.create(
        profile=anna, name="page_viewed", occurred_at=NOW - timedelta(days=7, seconds=1)
    )
    Event.objects.create(
        profile=anna, name="page_viewed", occurred_at=NOW + timedelta(hours=1)
    )
    rule = {
        "type": "event",
        "event": "page_viewed",
        "count": {"op": "eq", "value": 1},
        "within": {"value": 7, "unit": "days"},
    }
    assert matches(rule, anna) == (True, True)


def test_event_excluding_last_leaves_out_recent_events():
    anna = ProfileFactory()
    Event.objects.create(
        profile=anna, name="cart_updated", occurred_at=NOW - timedelta(minutes=10)
    )
    rule = {
        "type": "event",
        "event": "cart_updated",
        "within": {"value": 7, "unit": "days"},
        "excluding_last": {"value": 1, "unit": "hours"},
    }
    assert matches(rule, anna) == (False, False)
    assert matches(rule, anna, NOW + timedelta(hours=1)) == (True, True)


def test_event_property_types_are_strict():
    anna = ProfileFactory()
    Event.objects.create(
        profile=anna,
        name="product_viewed",
        occurred_at=NOW,
        properties={"price": 1, "in_stock": True, "sku": "1"},
    )

    def rule(prop, op, value):
        return {
            "type": "event",
            "event": "product_viewed",
            "where": [{"property": prop, "op": op, "value": value}],
        }

    assert matches(rule("price", "eq", 1), anna) == (True, True)
    assert matches(rule("price", "eq", 1.0), anna) == (True, True)
    assert matches(rule("price", "eq", True), anna) == (False, False)
    assert matches(rule("price", "eq", "1"), anna) == (False, False)
    assert matches(rule("in_stock", "eq", 1), anna) == (False, False)
    assert matches(rule("in_stock", "eq", True), anna) == (True, True)
    assert matches(rule("sku", "gt", 0), anna) == (False, False)
    assert matches(rule("sku", "ne", "2"), anna) == (True, True)
    assert matches(rule("missing", "ne", "2"), anna) == (True, True)


def test_decimal_computed_on_sqlite_compares_as_stored():
    anna = ProfileFactory(total_spent=Decimal("100.10"), order_count=3)
    Profile.objects.filter(pk=anna.pk).update(
        average_order_value=F("total_spent") / F("order_count")
    )
    rule = {
        "type": "aggregate",
        "measure": "average_order_value",
        "op": "eq",
        "value": 33.37,
    }
    assert matches(rule, anna) == (True, True)


def test_consent_latest_row_wins_ties_by_id():
    anna = ProfileFactory()
    at = NOW - timedelta(days=1)
    ConsentRecord.objects.create(
        profile=anna, channel="email", granted=True, recorded_at=at
    )
    ConsentRecord.objects.create(
        profile=anna, channel="email", granted=False, recorded_at=at
    )
    ConsentRecord.objects.create(
        profile=anna, channel="email", granted=True, recorded_at=NOW + timedelta(days=1)
    )
    granted = {"type": "consent", "channel": "email", "state": "granted"}
    withdrawn = {"type": "consent", "channel": "email", "state": "withdrawn"}
    assert matches(granted, anna) == (False, False)
    assert matches(withdrawn, anna) == (True, True)
    assert matches(granted, anna, NOW + timedelta(days=2)) == (True, True)


def test_explain_gives_each_condition_and_reason():
    anna = ProfileFactory(country="DE", total_spent=Decimal("80.00"))
    rule = {
        "all": [
            {"type": "profile", "field": "country", "op": "eq", "value": "DE"},
            {"type": "aggregate", "measure": "total_spent", "op": "gte", "value": 100},
        ]
    }
    lines = explain(rule, anna, NOW)
    assert [(line.path, line.depth, line.result) for line in lines] == [
        ("rule", 0, False),
        ("all[0]", 1, True),
        ("all[1]", 1, False),
    ]
    assert lines[0].reason == "1 of 2 met"
    assert lines[2].description == "Total spent is at least 100"
    assert lines[2].reason == "Total spent is 80.00"
    assert lines[1].as_dict()["result"] is True


def test_describe_reads_as_text():
    rule = {
        "all": [
            {"type": "profile", "field": "country", "op": "in", "value": ["DE", "AT"]},
            {"not": {"type": "segment", "segment": "vip"}},
        ]
    }
    assert (
        describe(rule) == "(Country is one of “DE”, “AT” and not member of segment vip)"
    )


def test_dependencies_of_rule():
    rule = {
        "any": [
            {
                "type": "event",
                "event": "page_viewed",
                "within": {"value": 1, "unit": "days"},
            },
            {"type": "profile", "field": "country", "op": "eq", "value": "DE"},
            {"type": "rfm", "field": "group", "op": "eq", "value": "loyal"},
        ]
    }
    deps = dependencies(rule)
    assert deps.events == {"page_viewed"}
    assert deps.fields == {"country"}
    assert deps.sources == {"rfm"}
    assert deps.time


class OpenedCondition(ConditionType):
    """A test condition that reads a fact a journey passes in the context."""

    name = "test_opened"
    label = "Opened"

    def validate(self, node, path, context):
        pass

    def to_q(self, node, now):
        return Q(email__endswith="@opened.example")

    def explain(self, node, evaluation):
        opened = evaluation.context.get(
            "opened", evaluation.profile.email.endswith("@opened.example")
        )
        return Outcome(opened, "opened" if opened else "not opened")

    def dependencies(self, node):
        return Dependencies(events=frozenset({"message_opened"}))


@pytest.fixture
def opened_condition():
    register(OpenedCondition())
    yield
    unregister("test_opened")


def test_registered_condition_type_reads_context(opened_condition):
    anna = ProfileFactory(email="anna@opened.example")
    rule = {"all": [{"type": "test_opened"}]}
    validate(rule)
    assert matches(rule, anna) == (True, True)
    assert evaluate(rule, anna, NOW, context={"opened": False}) is False


def test_register_rejects_taken_name(opened_condition):
    with pytest.raises(ValueError, match="already registered"):
        register(OpenedCondition())


def test_schema_rejects_unknown_shape():
    schema = rule_schema()
    jsonschema.validate({"all": [{"type": "segment", "segment": "vip"}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"all": [{"type": "segment", "slug": "vip"}]}, schema)
