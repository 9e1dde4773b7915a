import datetime
import math
from decimal import Decimal

import pytest
from django.test import override_settings

from omnichannel.predictions import services
from omnichannel.predictions.models import (
    CustomerPrediction,
    ModelKind,
    PredictionModel,
)
from omnichannel.predictions.signals import churn_risk_crossed
from omnichannel.profiles.models import Event, Profile

from .conftest import CALIBRATION_END, add_orders, at_noon, load_cdnow_into_database

pytestmark = pytest.mark.django_db

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_SPEND = {"p": 6.25, "q": 3.74, "gamma": 15.44}
NOW = at_noon("2024-06-30")


def activate_published_models():
    for kind, params in (
        (ModelKind.BGNBD, PUBLISHED_BGNBD),
        (ModelKind.GAMMA_GAMMA, PUBLISHED_SPEND),
    ):
        PredictionModel.objects.create(
            kind=kind,
            params=params,
            calibration_end=datetime.date(2024, 6, 30),
            converged=True,
            is_active=True,
        )


def prediction(profile):
    return CustomerPrediction.objects.get(profile=profile)


def test_fit_from_database_reproduces_published_parameters(cdnow_sample_rows):
    load_cdnow_into_database(cdnow_sample_rows)
    report = services.fit_from_database(calibration_end=CALIBRATION_END)
    transactions = report.transactions
    spend = report.spend
    assert report.n_customers == 2357
    assert transactions.is_active
    assert transactions.converged
    assert transactions.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    for name, value in PUBLISHED_BGNBD.items():
        assert transactions.params[name] == pytest.approx(value, abs=0.005)
    assert spend.is_active
    assert spend.n_customers == 946
    for name, value in PUBLISHED_SPEND.items():
        assert spend.params[name] == pytest.approx(value, abs=0.005)


def test_fit_too_little_history_stores_inactive_report():
    profile = Profile.objects.create()
    add_orders(profile, [("2024-01-01", 10), ("2024-02-01", 12)])
    report = services.fit_from_database(calibration_end=datetime.date(2024, 6, 30))
    assert not report.activated
    assert not report.transactions.converged
    assert "at least 100 customers" in report.transactions.message
    assert not report.spend.is_active
    assert not PredictionModel.objects.filter(is_active=True).exists()


@override_settings(
    OMNICHANNEL={"PREDICTIONS_MIN_CUSTOMERS": 1, "PREDICTIONS_MIN_REPEAT_CUSTOMERS": 1}
)
def test_fit_not_converged_keeps_previous_model():
    activate_published_models()
    previous = PredictionModel.objects.get(kind=ModelKind.BGNBD, is_active=True)
    # Everyone buys every week up to the last day: no dropout is ever observed.
    for _ in range(30):
        profile = Profile.objects.create()
        add_orders(
            profile,
            [
                (datetime.date(2024, 1, 1) + datetime.timedelta(weeks=w), 10)
                for w in range(20)
            ],
        )
    report = services.fit_from_database(calibration_end=datetime.date(2024, 5, 13))
    assert not report.transactions.converged
    assert not report.transactions.is_active
    assert report.transactions.message
    previous.refresh_from_db()
    assert previous.is_active


def test_score_profiles_without_model_leaves_purchase_fields_empty():
    profile = Profile.objects.create()
    add_orders(profile, [("2024-01-01", 10)])
    report = services.score_profiles(now=NOW)
    row = prediction(profile)
    assert report.purchase_scored == 0
    assert report.predictions_written == 1
    assert row.churn_risk is None
    assert row.clv_12m is None
    assert row.lifecycle_stage == ""


def test_score_profiles_stores_finite_scores():
    activate_published_models()
    loyal = Profile.objects.create()
    add_orders(loyal, [(f"2024-0{m}-10", 30) for m in range(1, 7)])
    lapsed = Profile.objects.create()
    add_orders(lapsed, [("2023-01-05", 20), ("2023-01-20", 25), ("2023-02-10", 30)])
    one_time = Profile.objects.create()
    add_orders(one_time, [("2024-03-01", 40)])
    free_items = Profile.objects.create()
    add_orders(free_items, [("2024-03-01", 0), ("2024-04-01", 0)])
    no_revenue = Profile.objects.create()
    add_orders(no_revenue, [("2024-03-01", None), ("2024-04-01", None)])
    nothing = Profile.objects.create()

    report = services.score_profiles(now=NOW)

    assert report.predictions_written == 5
    assert report.purchase_scored == 5
    assert report.stages == {"active": 3, "churning": 1, "one_time": 1}
    assert not CustomerPrediction.objects.filter(profile=nothing).exists()
    for row in CustomerPrediction.objects.all():
        for name in (
            "probability_alive",
            "churn_risk",
            "expected_purchases_30d",
            "expected_purchases_90d",
            "probability_purchase_30d",
        ):
            value = getattr(row, name)
            assert value is not None
            assert math.isfinite(value)
            assert value >= 0
        assert row.clv_12m is not None
        assert row.clv_12m >= 0
        assert row.churn_risk == pytest.approx(1 - row.probability_alive)
    assert prediction(loyal).lifecycle_stage == "active"
    assert prediction(lapsed).lifecycle_stage == "churning"
    assert prediction(one_time).lifecycle_stage == "one_time"
    assert prediction(one_time).churn_risk == 0
    assert prediction(loyal).clv_12m > prediction(lapsed).clv_12m
    assert prediction(free_items).clv_12m < prediction(loyal).clv_12m


def test_score_profiles_leaves_out_refunded_and_future_orders():
    activate_published_models()
    profile = Profile.objects.create()
    add_orders(profile, [("2024-01-10", 30), ("2024-05-10", 30), ("2024-08-10", 30)])
    Event.objects.create(
        profile=profile,
        name="order_refunded",
        occurred_at=at_noon("2024-05-20"),
        object_type="order",
        object_id=f"{profile.pk}-1",
    )
    services.score_profiles(now=NOW)
    row = prediction(profile)
    # Only the January order counts: a one-time buyer as of June 30.
    assert row.lifecycle_stage == "one_time"


def test_score_profiles_batches_agree_with_one_batch():
    activate_published_models()
    profiles = [Profile.objects.create() for _ in range(7)]
    for offset, profile in enumerate(profiles):
        add_orders(
            profile, [("2024-01-05", 10), (f"2024-0{1 + offset % 5}-2{offset}", 15)]
        )
    services.score_profiles(now=NOW, batch_size=100)
    single = {row.pk: row.churn_risk for row in CustomerPrediction.objects.all()}
    report = services.score_profiles(now=NOW, batch_size=2)
    batched = {row.pk: row.churn_risk for row in CustomerPrediction.objects.all()}
    assert report.batches == 4
    assert batched == single


def test_score_profiles_sends_churn_signal_on_rise():
    activate_published_models()
    profile = Profile.objects.create()
    add_orders(profile, [("2024-01-05", 20), ("2024-02-05", 20), ("2024-03-05", 20)])
    received = []

    def receiver(sender, profile, previous, current, threshold, **kwargs):
        received.append((profile.pk, previous, current, threshold))

    churn_risk_crossed.connect(receiver, weak=False)
    try:
        services.score_profiles(now=at_noon("2024-03-06"))
        assert received == []
        first = prediction(profile).churn_risk
        report = services.score_profiles(now=at_noon("2025-06-30"))
    finally:
        churn_risk_crossed.disconnect(receiver)

    later = prediction(profile).churn_risk
    assert first < 0.5
    assert later >= 0.8
    assert report.crossings == 2
    assert [threshold for *_rest, threshold in received] == [0.5, 0.8]
    assert received[0][:3] == (profile.pk, first, later)


def test_score_profiles_churn_signal_receiver_error_logged(caplog):
    activate_published_models()
    profile = Profile.objects.create()
    add_orders(profile, [("2024-01-05", 20), ("2024-02-05", 20)])

    def broken(**kwargs):
        raise RuntimeError("journey engine down")

    services.score_profiles(now=at_noon("2024-02-06"))
    churn_risk_crossed.connect(broken, weak=False)
    try:
        report = services.score_profiles(now=at_noon("2025-06-30"))
    finally:
        churn_risk_crossed.disconnect(broken)
    assert report.crossings == 2
    assert prediction(profile).churn_risk >= 0.8


def test_crossed_thresholds_directions():
    thresholds = (0.5, 0.8)
    assert services.crossed_thresholds(0.1, 0.9, thresholds) == [0.5, 0.8]
    assert services.crossed_thresholds(0.9, 0.1, thresholds) == [0.8, 0.5]
    assert services.crossed_thresholds(0.5, 0.6, thresholds) == []
    assert services.crossed_thresholds(0.4, 0.5, thresholds) == [0.5]
    assert services.crossed_thresholds(None, 0.9, thresholds) == []
    assert services.crossed_thresholds(0.1, None, thresholds) == []


def test_score_profiles_clears_scores_when_orders_refunded():
    activate_published_models()
    profile = Profile.objects.create()
    add_orders(profile, [("2024-01-10", 30)])
    services.score_profiles(now=NOW)
    assert prediction(profile).lifecycle_stage == "one_time"
    Event.objects.create(
        profile=profile,
        name="order_cancelled",
        occurred_at=at_noon("2024-01-11"),
        object_type="order",
        object_id=f"{profile.pk}-0",
    )
    services.score_profiles(now=NOW)
    row = prediction(profile)
    assert row.lifecycle_stage == ""
    assert row.churn_risk is None
    assert row.clv_12m is None


def test_score_profiles_skips_merged_profiles():
    activate_published_models()
    survivor = Profile.objects.create()
    merged = Profile.objects.create(merged_into=survivor)
    add_orders(merged, [("2024-01-10", 30)])
    services.score_profiles(now=NOW)
    assert not CustomerPrediction.objects.filter(profile=merged).exists()


def test_activate_model_rejects_unconverged():
    model = PredictionModel.objects.create(
        kind=ModelKind.BGNBD, calibration_end=datetime.date(2024, 1, 1)
    )
    with pytest.raises(ValueError, match="did not converge"):
        services.activate_model(model)


def test_activate_model_switches_active():
    activate_published_models()
    older = PredictionModel.objects.create(
        kind=ModelKind.BGNBD,
        params=PUBLISHED_BGNBD,
        calibration_end=datetime.date(2024, 1, 1),
        converged=True,
    )
    services.activate_model(older)
    active = PredictionModel.objects.get(kind=ModelKind.BGNBD, is_active=True)
    assert active.pk == older.pk


def test_active_params_ignores_unusable_spend_model():
    activate_published_models()
    PredictionModel.objects.filter(kind=ModelKind.GAMMA_GAMMA).update(
        params={"p": 1.0, "q": 0.5, "gamma": 2.0}
    )
    transactions, spend = services.active_params()
    assert transactions is not None
    assert spend is None


def test_score_profiles_clv_decimal_two_places():
    activate_published_models()
    profile = Profile.objects.create()
    add_orders(profile, [("2024-05-01", 99.99), ("2024-06-01", 120.5)])
    services.score_profiles(now=NOW)
    clv = prediction(profile).clv_12m
    assert isinstance(clv, Decimal)
    assert clv == clv.quantize(Decimal("0.01"))


def test_churn_risk_thresholds_include_sources():
    from omnichannel.predictions import signals

    def journey_thresholds():
        return [0.7, 0.5, "high", 1.5]

    signals.add_threshold_source(journey_thresholds)
    try:
        assert signals.churn_risk_thresholds() == (0.5, 0.7, 0.8)
    finally:
        signals.remove_threshold_source(journey_thresholds)
    assert signals.churn_risk_thresholds() == (0.5, 0.8)


def test_score_profiles_signal_for_source_threshold():
    from omnichannel.predictions import signals

    activate_published_models()
    profile = Profile.objects.create()
    add_orders(profile, [("2024-01-05", 20), ("2024-02-05", 20), ("2024-03-05", 20)])
    received = []

    def receiver(threshold, **kwargs):
        received.append(threshold)

    def source():
        return [0.65]

    services.score_profiles(now=at_noon("2024-03-06"))
    churn_risk_crossed.connect(receiver, weak=False)
    signals.add_threshold_source(source)
    try:
        services.score_profiles(now=at_noon("2025-06-30"))
    finally:
        signals.remove_threshold_source(source)
        churn_risk_crossed.disconnect(receiver)
    assert received == [0.5, 0.65, 0.8]
