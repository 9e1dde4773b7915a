"""Property tests: the compiled query and the Python evaluation give the same
result for random rules on random data, on whichever database the tests run."""

import jsonschema
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from omnichannel.consent.models import ConsentRecord
from omnichannel.predictions.models import CustomerPrediction, RFMScore
from omnichannel.profiles.models import Event, Profile
from omnichannel.segments.conditions import (
    compile_rule,
    evaluate,
    explain,
    rule_schema,
    validate,
)
from omnichannel.segments.membership import rebuild_segment
from omnichannel.segments.models import Segment, SegmentMembership
from tests.segments import strategies
from tests.segments.strategies import NOW


def build_world(world):
    segments = {
        slug: Segment.objects.create(name=slug, slug=slug)
        for slug in strategies.SEGMENT_SLUGS
    }
    for entry in world:
        data = dict(entry["profile"])
        if data["email"]:
            data["email"] = (
                f"{len(data['email'])}-{Profile.objects.count()}-{data['email']}"
            )
        profile = Profile.objects.create(**data)
        Event.objects.bulk_create(
            Event(profile=profile, **event) for event in entry["events"]
        )
        if entry["rfm"]:
            RFMScore.objects.create(profile=profile, **entry["rfm"])
        if entry["prediction"]:
            CustomerPrediction.objects.create(profile=profile, **entry["prediction"])
        for consent in entry["consent"]:
            ConsentRecord.objects.create(profile=profile, **consent)
        for slug in entry["segments"]:
            SegmentMembership.objects.create(segment=segments[slug], profile=profile)
        # A closed stay in the other segment must not count as membership.
        for slug in set(segments) - set(entry["segments"]):
            SegmentMembership.objects.create(
                segment=segments[slug],
                profile=profile,
                entered_at=NOW.replace(year=2025),
                exited_at=NOW.replace(year=2026, month=1),
            )
    return list(Profile.objects.order_by("pk"))


def conditions_of(leaves):
    return st.lists(leaves, min_size=6, max_size=12)


condition_settings = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class RuleAgreementTests(TestCase):
    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        world=strategies.world, rules=st.lists(strategies.rules, min_size=1, max_size=4)
    )
    def test_compile_matches_evaluate(self, world, rules):
        profiles = build_world(world)
        for rule in rules:
            validate(rule)
            compiled = set(
                Profile.objects.filter(compile_rule(rule, NOW)).values_list(
                    "pk", flat=True
                )
            )
            evaluated = {p.pk for p in profiles if evaluate(rule, p, NOW)}
            assert compiled == evaluated, rule
            if 0 < len(compiled) < len(profiles):
                event("a rule splits the profiles")

    def check_conditions(self, world, conditions):
        profiles = build_world(world)
        everyone = {p.pk for p in profiles}
        for condition in conditions:
            validate(condition)
            compiled = set(
                Profile.objects.filter(compile_rule(condition, NOW)).values_list(
                    "pk", flat=True
                )
            )
            negated = set(
                Profile.objects.filter(
                    compile_rule({"not": condition}, NOW)
                ).values_list("pk", flat=True)
            )
            evaluated = {p.pk for p in profiles if evaluate(condition, p, NOW)}
            assert compiled == evaluated, condition
            assert negated == everyone - evaluated, condition
            if 0 < len(compiled) < len(profiles):
                event("a condition splits the profiles")

    @condition_settings
    @given(
        world=strategies.world, conditions=conditions_of(strategies.profile_leaves())
    )
    def test_profile_conditions_agree(self, world, conditions):
        self.check_conditions(world, conditions)

    @condition_settings
    @given(
        world=strategies.world, conditions=conditions_of(strategies.aggregate_leaves())
    )
    def test_aggregate_conditions_agree(self, world, conditions):
        self.check_conditions(world, conditions)

    @condition_settings
    @given(
        world=strategies.world, conditions=conditions_of(strategies.attribute_leaves())
    )
    def test_attribute_conditions_agree(self, world, conditions):
        self.check_conditions(world, conditions)

    @condition_settings
    @given(world=strategies.world, conditions=conditions_of(strategies.event_leaves()))
    def test_event_conditions_agree(self, world, conditions):
        self.check_conditions(world, conditions)

    @condition_settings
    @given(
        world=strategies.world,
        conditions=conditions_of(
            st.one_of(
                strategies.rfm_leaves(),
                strategies.prediction_leaves(),
                strategies.consent_leaves(),
                strategies.segment_leaves(),
            )
        ),
    )
    def test_score_consent_segment_conditions_agree(self, world, conditions):
        self.check_conditions(world, conditions)

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        world=strategies.world,
        rule=strategies.rules,
        states=st.lists(st.sampled_from(["open", "closed", "none"]), max_size=8),
        ineligible=st.lists(st.sampled_from(["merged", "erased", None]), max_size=8),
    )
    def test_rebuild_matches_evaluate(self, world, rule, states, ineligible):
        profiles = build_world(world)
        # Some profiles are merged away or erased, and so can never be members.
        for profile, state in zip(profiles[1:], ineligible, strict=False):
            if state == "merged":
                Profile.objects.filter(pk=profile.pk).update(merged_into=profiles[0])
            elif state == "erased":
                Profile.objects.filter(pk=profile.pk).update(erased_at=NOW)
        profiles = list(Profile.objects.order_by("pk"))
        target = Segment(name="Target", slug="target", rules=rule)
        target._rebuild_on_save = False
        target.save()
        # Before the rebuild each profile has an open stay, a closed one, or none.
        before = set()
        for profile, state in zip(profiles, states, strict=False):
            if state == "open":
                SegmentMembership.objects.create(segment=target, profile=profile)
                before.add(profile.pk)
            elif state == "closed":
                SegmentMembership.objects.create(
                    segment=target,
                    profile=profile,
                    entered_at=NOW.replace(year=2025),
                    exited_at=NOW.replace(year=2026, month=1),
                )
        expected = {
            p.pk
            for p in profiles
            if p.merged_into_id is None
            and p.erased_at is None
            and evaluate(rule, p, NOW)
        }

        change = rebuild_segment(target, NOW)

        open_now = set(
            SegmentMembership.objects.filter(
                segment=target, exited_at__isnull=True
            ).values_list("profile_id", flat=True)
        )
        assert open_now == expected, rule
        assert change.entered == sorted(expected - before), rule
        assert change.exited == sorted(before - expected), rule
        if change.entered and change.exited:
            event("a rebuild opens and closes memberships")

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(world=strategies.world, rule=strategies.rules)
    def test_explain_matches_evaluate(self, world, rule):
        profiles = build_world(world)
        for profile in profiles:
            lines = explain(rule, profile, NOW)
            assert lines[0].result == evaluate(rule, profile, NOW)
            assert lines[0].path == "rule"


@settings(max_examples=200, deadline=None)
@given(rule=strategies.rules)
def test_schema_accepts_generated_rules(rule):
    jsonschema.validate(rule, rule_schema())
