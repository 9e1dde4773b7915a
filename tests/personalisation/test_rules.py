"""Choosing a banner: rules in the condition language, schedule, priority, fallback."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.experiments.models import Assignment
from omnichannel.personalisation.services import choose_banner
from omnichannel.personalisation.visitor import NoProfileEvaluation, PageContext
from omnichannel.predictions.models import CustomerPrediction, RFMScore
from omnichannel.segments.conditions import evaluate
from tests.factories import EventFactory, ExperimentFactory, VariantFactory
from tests.personalisation.conftest import (
    WINTER_JACKETS,
    join_segment,
    make_banner,
    make_visitor,
    visitor_request,
)

pytestmark = pytest.mark.django_db


def test_event_rule_shows_banner_after_browsing(hero):
    parka = make_banner(hero, "parkas", rules=WINTER_JACKETS)
    profile = make_visitor()
    EventFactory(
        profile=profile,
        name="category_viewed",
        properties={"category": "winter-jackets"},
    )

    assert choose_banner(visitor_request(), "home-hero") == parka


def test_event_rule_ignores_browsing_outside_window(hero):
    make_banner(hero, "parkas", rules=WINTER_JACKETS)
    profile = make_visitor()
    EventFactory(
        profile=profile,
        name="category_viewed",
        properties={"category": "winter-jackets"},
        occurred_at=timezone.now() - timedelta(days=8),
    )

    assert choose_banner(visitor_request(), "home-hero") is None


def test_segment_rule_matches_members_only(hero):
    vip = make_banner(hero, "vip", rules={"type": "segment", "segment": "vip"})
    member = make_visitor("b" * 32)
    join_segment(member, "vip")
    make_visitor("c" * 32)

    assert choose_banner(visitor_request("b" * 32), "home-hero") == vip
    assert choose_banner(visitor_request("c" * 32), "home-hero") is None


def test_rfm_group_rule(hero):
    champions = make_banner(
        hero,
        "champions",
        rules={"type": "rfm", "field": "group", "op": "eq", "value": "champions"},
    )
    profile = make_visitor()
    RFMScore.objects.create(
        profile=profile,
        recency_score=5,
        frequency_score=5,
        monetary_score=5,
        group="champions",
    )

    assert choose_banner(visitor_request(), "home-hero") == champions


def test_prediction_rule(hero):
    at_risk = make_banner(
        hero,
        "win-back",
        rules={"type": "prediction", "field": "churn_risk", "op": "gte", "value": 0.7},
    )
    profile = make_visitor()
    CustomerPrediction.objects.create(profile=profile, churn_risk=0.9)

    assert choose_banner(visitor_request(), "home-hero") == at_risk


def test_variant_rule_assigns_and_shows_the_arm(hero):
    experiment = ExperimentFactory(key="hero-test", holdout_share=0)
    control = VariantFactory(experiment=experiment, key="a", is_control=True)
    VariantFactory(experiment=experiment, key="b")
    profile = make_visitor()
    banners = {
        key: make_banner(
            hero,
            f"variant {key}",
            rules={"type": "experiment", "experiment": "hero-test", "variant": key},
        )
        for key in ("a", "b")
    }

    shown = choose_banner(visitor_request(), "home-hero")

    stored = Assignment.objects.get(experiment=experiment, profile=profile)
    assert shown == banners[stored.variant.key]
    assert control.experiment_id == experiment.pk


def test_anonymous_visitor_sees_rule_free_banner(hero):
    make_banner(hero, "parkas", rules=WINTER_JACKETS, priority=10)
    everyone = make_banner(hero, "everyone")

    assert choose_banner(visitor_request("d" * 32), "home-hero") == everyone


def test_anonymous_visitor_meets_negated_rule(hero):
    outsider = make_banner(
        hero, "not-vip", rules={"not": {"type": "segment", "segment": "vip"}}
    )
    join_segment(make_visitor("e" * 32), "vip")

    assert choose_banner(visitor_request("f" * 32), "home-hero") == outsider


def test_priority_highest_wins_then_oldest(hero):
    make_banner(hero, "low", priority=1)
    first = make_banner(hero, "high", priority=5)
    make_banner(hero, "high too", priority=5)

    assert choose_banner(visitor_request(), "home-hero") == first


def test_schedule_hides_future_and_ended(hero):
    now = timezone.now()
    make_banner(hero, "future", priority=3, starts_at=now + timedelta(hours=1))
    make_banner(hero, "ended", priority=2, ends_at=now - timedelta(minutes=1))
    current = make_banner(
        hero,
        "current",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )

    assert choose_banner(visitor_request(), "home-hero") == current


def test_inactive_banner_is_not_shown(hero):
    make_banner(hero, "off", is_active=False)

    assert choose_banner(visitor_request(), "home-hero") is None


def test_fallback_when_no_rule_matches(hero):
    make_banner(hero, "parkas", rules=WINTER_JACKETS)
    generic = make_banner(hero, "generic", rules={"any": []}, is_active=False)
    hero.fallback = generic
    hero.save()

    assert choose_banner(visitor_request(), "home-hero") == generic


def test_unknown_placement_shows_nothing(hero):
    make_banner(hero, "everyone")

    assert choose_banner(visitor_request(), "nav") is None


@pytest.mark.parametrize(
    "rules",
    [
        WINTER_JACKETS,
        {"type": "segment", "segment": "vip"},
        {"not": {"type": "segment", "segment": "vip"}},
        {"type": "aggregate", "measure": "order_count", "op": "gte", "value": 1},
        {"all": []},
    ],
)
def test_sql_answer_matches_python_evaluator(hero, rules):
    profile = make_visitor()
    join_segment(profile, "vip")
    EventFactory(
        profile=profile,
        name="category_viewed",
        properties={"category": "winter-jackets"},
    )
    context = PageContext(visitor_request())

    assert context.matches(rules) == evaluate(rules, profile)


def test_no_profile_evaluation_reads_nothing(django_assert_num_queries):
    evaluation = NoProfileEvaluation(timezone.now())

    with django_assert_num_queries(0):
        result = evaluate(WINTER_JACKETS, evaluation.profile, evaluation=evaluation)

    assert result is False


def test_prepared_query_matches_orm_query(hero):
    from omnichannel.personalisation import prepared
    from omnichannel.personalisation.visitor import rule_key, visitor_queryset

    ExperimentFactory(key="hero-test")
    rules = [
        WINTER_JACKETS,
        {"type": "segment", "segment": "vip"},
        {"type": "rfm", "field": "group", "op": "eq", "value": "champions"},
        {
            "type": "profile",
            "field": "created_at",
            "op": "before",
            "value": "2030-01-01",
        },
        {"type": "experiment", "experiment": "hero-test", "variant": None},
    ]
    rules_by_key = {rule_key(rule): rule for rule in rules}
    browsed, member = make_visitor("b" * 32), make_visitor("c" * 32)
    EventFactory(
        profile=browsed,
        name="category_viewed",
        properties={"category": "winter-jackets"},
    )
    join_segment(member, "vip")
    now = timezone.now()

    shape = prepared.prepare(
        {"pk": None, "user": None, "visitor": "x"}, rules_by_key, ["hero-test"], now
    )
    assert shape is not None
    for visitor in ("b" * 32, "c" * 32, "d" * 32):
        identifiers = {"pk": None, "user": None, "visitor": visitor}
        later = now + timedelta(minutes=3)
        row, names = prepared.fetch_visitor(
            identifiers, rules_by_key, ["hero-test"], later
        )
        queryset, _names = visitor_queryset(
            identifiers, rules_by_key, ["hero-test"], later
        )
        expected = next(iter(queryset), None)
        if expected is None:
            assert row is None
            continue
        assert row.pk == expected.pk
        for name in names.values():
            assert bool(getattr(row, name)) == bool(getattr(expected, name)), name
        assert row.omni_segments == expected.omni_segments


@pytest.mark.parametrize("variant", ["a", "b", None])
def test_experiment_condition_sql_matches_python(variant):
    from omnichannel.profiles.models import Profile
    from omnichannel.segments.conditions import compile_rule, validate

    experiment = ExperimentFactory(key="hero-test")
    arm_a = VariantFactory(experiment=experiment, key="a", is_control=True)
    VariantFactory(experiment=experiment, key="b")
    in_a, in_holdout, unassigned = (make_visitor(str(n) * 32) for n in (1, 2, 3))
    Assignment.objects.create(experiment=experiment, profile=in_a, variant=arm_a)
    Assignment.objects.create(experiment=experiment, profile=in_holdout, variant=None)
    rule = {"type": "experiment", "experiment": "hero-test", "variant": variant}
    validate(rule)

    matched = set(
        Profile.objects.filter(compile_rule(rule)).values_list("pk", flat=True)
    )

    for profile in (in_a, in_holdout, unassigned):
        assert (profile.pk in matched) == evaluate(rule, profile), profile
    expected = {"a": {in_a.pk}, "b": set(), None: {in_holdout.pk}}[variant]
    assert matched == expected


def test_experiment_condition_rejects_unknown_variant():
    from omnichannel.exceptions import InvalidRule
    from omnichannel.segments.conditions import validate

    experiment = ExperimentFactory(key="hero-test")
    VariantFactory(experiment=experiment, key="a")

    with pytest.raises(InvalidRule, match="has no variant 'z'"):
        validate({"type": "experiment", "experiment": "hero-test", "variant": "z"})
