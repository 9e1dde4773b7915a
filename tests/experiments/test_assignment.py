import hashlib
import uuid
from decimal import Decimal

import pytest

from omnichannel.exceptions import ExperimentError
from omnichannel.experiments.assignment import (
    assign,
    assign_many,
    bucket,
    choose_arm,
)
from omnichannel.experiments.models import Assignment, Experiment, Variant
from omnichannel.experiments.signals import variant_assigned
from omnichannel.profiles.models import Profile
from omnichannel.profiles.services import merge_profiles
from tests.factories import ExperimentFactory, ProfileFactory, VariantFactory

pytestmark = pytest.mark.django_db

FIXED_UUID = uuid.UUID("6f1c2a4e-3b7d-4c1e-9a0b-2d5e8f7a1c3b")


def make_experiment(weights=(1, 1), holdout="0", **fields):
    experiment = ExperimentFactory(holdout_share=Decimal(holdout), **fields)
    variants = [
        VariantFactory(experiment=experiment, key=f"v{i}", weight=w, is_control=i == 0)
        for i, w in enumerate(weights)
    ]
    return experiment, variants


def make_profiles(count):
    return Profile.objects.bulk_create(Profile() for _ in range(count))


def test_bucket_is_sha256_of_key_and_uuid():
    digest = hashlib.sha256(f"subject-test:{FIXED_UUID}".encode()).digest()
    expected = int.from_bytes(digest[:8], "big") / 2**64

    assert bucket("subject-test", FIXED_UUID) == expected
    assert bucket("subject-test", str(FIXED_UUID)) == expected
    assert 0 <= expected < 1


def test_bucket_fixed_value():
    # The first 8 bytes of the digest are a9043988bc783837. A fixed literal proves
    # the position depends on neither PYTHONHASHSEED nor the process.
    assert bucket("subject-test", FIXED_UUID) == 0.6602207144573818


def test_choose_arm_respects_weights_and_holdout():
    a, b, c = (Variant(key=k, weight=w) for k, w in (("a", 1), ("b", 2), ("c", 1)))
    counts = {"a": 0, "b": 0, "c": 0, None: 0}
    total = 40_000
    for _ in range(total):
        arm = choose_arm(bucket("weights", uuid.uuid4()), Decimal("0.2"), [a, b, c])
        counts[arm.key if arm else None] += 1

    # Standard errors are about 0.002 at 40,000 draws.
    assert counts[None] / total == pytest.approx(0.2, abs=0.01)
    assert counts["a"] / total == pytest.approx(0.2, abs=0.01)
    assert counts["b"] / total == pytest.approx(0.4, abs=0.01)
    assert counts["c"] / total == pytest.approx(0.2, abs=0.01)


def test_choose_arm_skips_zero_weight():
    a, b = Variant(key="a", weight=0), Variant(key="b", weight=3)

    arms = {choose_arm(i / 100, 0, [a, b]).key for i in range(100)}

    assert arms == {"b"}


def test_choose_arm_all_zero_weights_rejected():
    with pytest.raises(ExperimentError, match="positive weight"):
        choose_arm(0.5, 0, [Variant(key="a", weight=0)])


def test_assign_stores_and_repeats():
    experiment, _ = make_experiment()
    profile = ProfileFactory()

    first = assign(experiment, profile)
    second = assign(experiment, profile)

    assert first == second
    assert (
        Assignment.objects.filter(experiment=experiment, profile=profile).count() == 1
    )
    stored = Assignment.objects.get(experiment=experiment, profile=profile)
    assert stored.variant == first


def test_assign_matches_hash():
    experiment, variants = make_experiment(weights=(1, 3), holdout="0.1")
    for profile in make_profiles(50):
        expected = choose_arm(
            bucket(experiment.key, profile.uuid), Decimal("0.1"), variants
        )

        assert assign(experiment, profile) == expected


def test_assign_weight_change_moves_nobody():
    experiment, (control, challenger) = make_experiment(weights=(1, 1))
    profiles = make_profiles(60)
    before = {p.pk: assign(experiment, p) for p in profiles}
    assert {arm.key for arm in before.values()} == {"v0", "v1"}

    Variant.objects.filter(pk=control.pk).update(weight=0)
    Experiment.objects.filter(pk=experiment.pk).update(holdout_share=Decimal("0.5"))
    experiment.refresh_from_db()

    after = {p.pk: assign(experiment, p) for p in profiles}
    assert after == before
    newcomer = ProfileFactory()
    assert assign(experiment, newcomer) in (None, challenger)


def test_assign_holdout_returns_none():
    experiment, _ = make_experiment(weights=(1,), holdout="0.9")
    results = [assign(experiment, p) for p in make_profiles(40)]

    assert None in results
    held = Assignment.objects.filter(experiment=experiment, variant__isnull=True)
    assert held.count() == results.count(None)


def test_assign_sends_signal_once():
    experiment, _ = make_experiment()
    profile = ProfileFactory()
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs["variant"])

    variant_assigned.connect(receiver)
    try:
        assign(experiment, profile)
        assign(experiment, profile)
    finally:
        variant_assigned.disconnect(receiver)

    assert len(received) == 1


def test_assign_completed_returns_winner():
    experiment, (control, challenger) = make_experiment(holdout="0.5")
    profiles = make_profiles(20)
    for p in profiles:
        assign(experiment, p)
    experiment.status = Experiment.Status.COMPLETED
    experiment.winner = challenger
    experiment.save()

    assert {assign(experiment, p) for p in profiles} == {challenger}
    assert assign(experiment, ProfileFactory()) == challenger


def test_assign_completed_without_winner_returns_control():
    experiment, (control, _) = make_experiment(status=Experiment.Status.COMPLETED)

    assert assign(experiment, ProfileFactory()) == control


def test_assign_paused_keeps_arms_stores_nothing():
    experiment, (control, _) = make_experiment(holdout="0.3")
    profiles = make_profiles(30)
    before = {p.pk: assign(experiment, p) for p in profiles}
    experiment.status = Experiment.Status.PAUSED
    experiment.save()
    newcomer = ProfileFactory()

    assert {p.pk: assign(experiment, p) for p in profiles} == before
    assert assign(experiment, newcomer) == control
    assert not Assignment.objects.filter(profile=newcomer).exists()


def test_assign_draft_without_control_rejected():
    experiment = ExperimentFactory(status=Experiment.Status.DRAFT)
    VariantFactory(experiment=experiment, key="only", is_control=False)

    with pytest.raises(ExperimentError, match="no control"):
        assign(experiment, ProfileFactory())


def test_assign_merged_profile_uses_survivor():
    experiment, _ = make_experiment()
    survivor, loser = ProfileFactory(), ProfileFactory()
    survivor_arm = assign(experiment, survivor)
    assign(experiment, loser)

    merge_profiles(survivor, loser)
    loser.refresh_from_db()

    assert assign(experiment, loser) == survivor_arm
    assert Assignment.objects.filter(experiment=experiment).count() == 1
    assert Assignment.objects.get(experiment=experiment).profile == survivor


def test_assign_merge_moves_loser_only_assignment():
    experiment, _ = make_experiment()
    survivor, loser = ProfileFactory(), ProfileFactory()
    arm = assign(experiment, loser)

    merge_profiles(survivor, loser)

    assert Assignment.objects.get(experiment=experiment).profile == survivor
    assert assign(experiment, survivor) == arm


def test_assign_many_matches_assign():
    experiment, _ = make_experiment(weights=(2, 1, 1), holdout="0.2")
    profiles = make_profiles(80)
    first_half = {p.pk: assign(experiment, p) for p in profiles[:40]}

    result = assign_many(experiment, [p.pk for p in profiles])

    for p in profiles[:40]:
        assert result[p.pk] == first_half[p.pk]
    for p in profiles[40:]:
        assert result[p.pk] == assign(experiment, p)
    assert Assignment.objects.filter(experiment=experiment).count() == 80


def test_assign_many_completed_gives_winner():
    experiment, (_, challenger) = make_experiment()
    experiment.status = Experiment.Status.COMPLETED
    experiment.winner = challenger
    experiment.save()
    profiles = make_profiles(5)

    result = assign_many(experiment, [p.pk for p in profiles])

    assert set(result.values()) == {challenger}
    assert not Assignment.objects.exists()
