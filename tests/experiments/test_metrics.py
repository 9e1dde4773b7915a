from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from scipy import stats as scipy_stats

from omnichannel.experiments.evaluation import (
    evaluate_experiment,
    experiment_results,
    find_winner,
)
from omnichannel.experiments.metrics import arm_table
from omnichannel.experiments.models import Assignment, Experiment
from omnichannel.experiments.signals import winner_promoted
from omnichannel.profiles.models import Event, Profile
from tests.factories import ExperimentFactory, ProfileFactory, VariantFactory

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def message_events(experiment, profile, arm, *names, at=T0):
    for offset, name in enumerate(names):
        Event.objects.create(
            profile=profile,
            name=name,
            occurred_at=at + timedelta(minutes=offset),
            properties={"experiment_id": experiment.pk, "variant": arm},
        )


def order(profile, at, revenue, object_id=None):
    return Event.objects.create(
        profile=profile,
        name="order_placed",
        occurred_at=at,
        revenue=Decimal(revenue),
        currency="EUR",
        object_type="order",
        object_id=object_id or f"o-{profile.pk}-{at:%d%H%M}",
    )


@pytest.fixture
def message_test():
    experiment = ExperimentFactory(
        holdout_share=Decimal("0.2"), conversion_window=timedelta(days=7)
    )
    a = VariantFactory(experiment=experiment, key="a", is_control=True)
    b = VariantFactory(experiment=experiment, key="b")
    p = {i: ProfileFactory() for i in range(1, 7)}
    for i, variant in ((1, a), (2, a), (3, b), (4, b), (5, None), (6, b)):
        Assignment.objects.create(
            experiment=experiment, profile=p[i], variant=variant, assigned_at=T0
        )
    full = ("message_sent", "message_delivered", "message_opened", "message_clicked")
    message_events(experiment, p[1], "a", *full)
    order(p[1], T0 + timedelta(days=2), "50.00")
    message_events(experiment, p[2], "a", "message_sent", "message_delivered")
    order(p[2], T0 + timedelta(days=8), "70.00")  # after the window
    order(p[2], T0 - timedelta(days=1), "15.00")  # before the assignment
    message_events(experiment, p[3], "b", *full[:3])
    order(p[3], T0 + timedelta(days=1), "30.00")
    order(p[3], T0 + timedelta(days=3), "20.00")
    message_events(experiment, p[4], "b", *full, "message_clicked")
    cancelled = order(p[4], T0 + timedelta(hours=1), "100.00", object_id="o-x")
    Event.objects.create(
        profile=p[4],
        name="order_cancelled",
        occurred_at=T0 + timedelta(hours=2),
        object_type="order",
        object_id=cancelled.object_id,
    )
    order(p[5], T0 + timedelta(days=1), "10.00")
    # Another experiment's events do not count here.
    Event.objects.create(
        profile=p[6],
        name="message_clicked",
        properties={"experiment_id": experiment.pk + 1000, "variant": "b"},
    )
    return experiment


def test_metrics_counts_per_arm(message_test):
    results = experiment_results(message_test)
    a, b, holdout = (results.arm(key) for key in ("a", "b", "holdout"))

    assert (a.assigned, a.sent, a.delivered, a.opened, a.clicked) == (2, 2, 2, 1, 1)
    assert (a.converted, a.orders, a.revenue) == (1, 1, Decimal("50.00"))
    assert (b.assigned, b.sent, b.delivered, b.opened, b.clicked) == (3, 2, 2, 2, 1)
    assert (b.converted, b.orders, b.revenue) == (1, 2, Decimal("50.00"))
    assert (holdout.assigned, holdout.converted, holdout.revenue) == (
        1,
        1,
        Decimal("10.00"),
    )


def test_metrics_rates(message_test):
    results = experiment_results(message_test)
    a, b = results.arm("a"), results.arm("b")

    assert a.open_rate == 0.5
    assert a.click_rate == 0.5
    assert a.conversion_rate == 0.5
    assert a.revenue_per_recipient == 25.0
    assert b.open_rate == 1.0
    assert b.conversion_rate == pytest.approx(1 / 3)
    assert b.revenue_per_recipient == pytest.approx(50 / 3)


def test_metrics_comparisons_match_scipy(message_test):
    results = experiment_results(message_test)
    by_metric = {c.metric: c for c in results.comparisons if c.arm == "b"}
    _, conversion_p, _, _ = scipy_stats.chi2_contingency(
        [[1, 1], [1, 2]], correction=False
    )
    welch = scipy_stats.ttest_ind([50, 0, 0], [50, 0], equal_var=False)

    assert by_metric["conversion_rate"].p_value == pytest.approx(conversion_p)
    assert by_metric["revenue_per_recipient"].p_value == pytest.approx(welch.pvalue)
    assert by_metric["revenue_per_recipient"].difference == pytest.approx(50 / 3 - 25)
    assert by_metric["conversion_rate"].probability_to_beat is not None
    assert not any(c.significant for c in results.comparisons)


def test_metrics_holdout_comparison(message_test):
    results = experiment_results(message_test)
    against_holdout = {(c.arm, c.metric): c for c in results.holdout_comparisons}

    conversion = against_holdout[("a", "conversion_rate")]
    assert conversion.reference == "holdout"
    assert conversion.difference == pytest.approx(0.5 - 1.0)
    revenue = against_holdout[("a", "revenue_per_recipient")]
    assert revenue.p_value is None
    assert "at least 2" in revenue.note


def test_metrics_arm_table_rows(message_test):
    rows = arm_table(experiment_results(message_test))

    assert [row["arm"] for row in rows] == ["a", "b", "holdout"]
    assert rows[0]["revenue_per_recipient"] == 25.0
    assert rows[2]["sent"] == 0


def test_metrics_placement_counts_views_and_clicks():
    experiment = ExperimentFactory(target=Experiment.Target.PLACEMENT)
    control = VariantFactory(experiment=experiment, key="a", is_control=True)
    VariantFactory(experiment=experiment, key="b")
    profile = ProfileFactory()
    Assignment.objects.create(experiment=experiment, profile=profile, variant=control)
    message_events(experiment, profile, "a", "banner_viewed", "banner_clicked")

    results = experiment_results(experiment)
    arm = results.arm("a")

    assert (arm.sent, arm.delivered, arm.clicked) == (1, 1, 1)
    assert arm.opened is None
    assert arm.open_rate is None
    open_rate = [c for c in results.comparisons if c.metric == "open_rate"][0]
    assert open_rate.note


def fill_arm(experiment, variant, assigned, conversions, revenue_each):
    profiles = Profile.objects.bulk_create(Profile() for _ in range(assigned))
    Assignment.objects.bulk_create(
        Assignment(experiment=experiment, profile=p, variant=variant, assigned_at=T0)
        for p in profiles
    )
    Event.objects.bulk_create(
        Event(
            profile=p,
            name="order_placed",
            occurred_at=T0 + timedelta(days=1),
            revenue=Decimal(revenue_each),
            object_type="order",
            object_id=f"order-{p.pk}",
        )
        for p in profiles[:conversions]
    )


def two_arm_test(metric=Experiment.Metric.CONVERSION_RATE, **fields):
    fields = {"minimum_sample_size": 50, "auto_promote": True, **fields}
    experiment = ExperimentFactory(metric=metric, **fields)
    control = VariantFactory(experiment=experiment, key="control", is_control=True)
    challenger = VariantFactory(experiment=experiment, key="challenger")
    return experiment, control, challenger


def test_evaluation_promotes_significant_winner():
    experiment, control, challenger = two_arm_test()
    fill_arm(experiment, control, 60, 3, "20.00")
    fill_arm(experiment, challenger, 60, 20, "20.00")
    received = []

    def receiver(sender, **kwargs):
        received.append((kwargs["variant"], kwargs["automatic"]))

    winner_promoted.connect(receiver)
    try:
        evaluate_experiment(experiment)
    finally:
        winner_promoted.disconnect(receiver)

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.COMPLETED
    assert experiment.winner == challenger
    assert experiment.promoted_at is not None
    assert received == [(challenger, True)]


def test_evaluation_waits_for_minimum_sample():
    experiment, control, challenger = two_arm_test()
    fill_arm(experiment, control, 40, 1, "20.00")
    fill_arm(experiment, challenger, 40, 30, "20.00")

    evaluate_experiment(experiment)

    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING
    winner, reason = find_winner(experiment_results(experiment))
    assert winner is None
    assert "50" in reason


def test_evaluation_revenue_metric_decides():
    # Same conversions, three times the order value: only revenue differs.
    for metric, promoted in (
        (Experiment.Metric.REVENUE_PER_RECIPIENT, True),
        (Experiment.Metric.CONVERSION_RATE, False),
    ):
        experiment, control, challenger = two_arm_test(metric=metric)
        fill_arm(experiment, control, 60, 30, "10.00")
        fill_arm(experiment, challenger, 60, 30, "30.00")

        winner, _ = find_winner(experiment_results(experiment))

        assert (winner == challenger) is promoted


def test_evaluation_control_wins_when_all_worse():
    experiment, control, challenger = two_arm_test(auto_promote=False)
    fill_arm(experiment, control, 60, 25, "20.00")
    fill_arm(experiment, challenger, 60, 2, "20.00")

    winner, reason = find_winner(experiment_results(experiment))

    assert winner == control
    assert "control" in reason
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING


def test_evaluation_bonferroni_with_three_variants():
    experiment, control, challenger = two_arm_test()
    VariantFactory(experiment=experiment, key="third")

    results = experiment_results(experiment)

    assert results.adjusted_alpha == pytest.approx(0.025)


def test_evaluation_one_variant_only_with_holdout():
    experiment = ExperimentFactory(holdout_share=Decimal("0.5"), minimum_sample_size=1)
    control = VariantFactory(experiment=experiment, key="only", is_control=True)
    fill_arm(experiment, control, 10, 4, "12.00")
    fill_arm(experiment, None, 10, 1, "12.00")

    results = experiment_results(experiment)
    winner, reason = find_winner(results)

    assert results.comparisons == []
    assert {c.metric for c in results.holdout_comparisons} == {
        "conversion_rate",
        "revenue_per_recipient",
    }
    lift = [c for c in results.holdout_comparisons if c.metric == "conversion_rate"]
    assert lift[0].difference == pytest.approx(0.3)
    assert winner is None
    assert reason


def test_evaluation_zero_conversions_no_winner():
    experiment, control, challenger = two_arm_test()
    fill_arm(experiment, control, 60, 0, "0")
    fill_arm(experiment, challenger, 60, 0, "0")

    results = experiment_results(experiment)
    winner, _ = find_winner(results)

    assert winner is None
    primary = results.primary()[0]
    assert primary.p_value == 1
    assert primary.probability_to_beat == pytest.approx(0.5)
    assert results.sample_size_per_arm is None


def test_evaluation_sample_ratio_mismatch_blocks():
    experiment, control, challenger = two_arm_test()
    fill_arm(experiment, control, 300, 10, "20.00")
    fill_arm(experiment, challenger, 60, 30, "20.00")

    results = experiment_results(experiment)
    winner, reason = find_winner(results)

    assert results.sample_ratio_p_value < 0.001
    assert winner is None
    assert "mismatch" in reason


def test_evaluation_sample_size_uses_control_rate():
    from omnichannel.experiments.stats import sample_size_for_lift

    experiment, control, challenger = two_arm_test()
    fill_arm(experiment, control, 100, 10, "20.00")

    results = experiment_results(experiment)

    assert results.sample_size_per_arm == sample_size_for_lift(0.1, 0.1)
