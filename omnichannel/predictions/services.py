"""Fit the models on the shop's orders and score every profile in batches."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.predictions import (
    affinity,
    bgnbd,
    gammagamma,
    loading,
    sendtime,
    validation,
)
from omnichannel.predictions.datasets import PurchaseRows
from omnichannel.predictions.exceptions import InsufficientHistory, InvalidSummaryInput
from omnichannel.predictions.models import (
    CustomerPrediction,
    ModelKind,
    PredictionModel,
    PredictionValidation,
)
from omnichannel.predictions.optimise import FitResult
from omnichannel.predictions.scoring import score_arrays
from omnichannel.predictions.signals import churn_risk_crossed, churn_risk_thresholds
from omnichannel.predictions.summary import TransactionSummary, summarise_transactions
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

# Send-time and affinity priors are estimated on about this many profiles.
PRIOR_SAMPLE_PROFILES = 20_000
# Largest CLV the DecimalField (14 digits, 2 decimals) holds.
MAX_STORED_CLV = 10**12 - 1
SCORE_FIELDS = (
    "probability_alive",
    "churn_risk",
    "expected_purchases_30d",
    "expected_purchases_90d",
    "probability_purchase_30d",
    "clv_12m",
    "lifecycle_stage",
    "best_send_hour_of_week",
    "best_send_hour_of_day",
    "send_time_events",
    "channel_affinity",
    "preferred_channel",
    "scored_at",
)


@dataclass(frozen=True)
class FitReport:
    """The two models stored by one fitting run."""

    calibration_end: datetime.date
    n_customers: int
    transactions: PredictionModel
    spend: PredictionModel

    @property
    def activated(self) -> bool:
        return self.transactions.is_active or self.spend.is_active


def fit_from_database(
    *,
    calibration_end: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> FitReport:
    """Fit BG/NBD and Gamma-Gamma on all orders up to ``calibration_end``.

    ``calibration_end`` defaults to today in the shop's time zone. Each fit is
    stored as a PredictionModel. A converged fit becomes the active model of its
    kind. A fit that did not converge, or could not run for lack of history, is
    stored inactive with the reason in ``message``, and the previous active model
    stays in use.
    """
    end = calibration_end or loading.local_date(now or timezone.now())
    orders = loading.load_order_days(until=end).only(loading.eligible_profile_ids())
    summary = summarise_transactions(
        orders.profile_ids, orders.days, orders.amounts, calibration_end=end
    )
    penalizer = float(app_settings.PREDICTIONS_PENALIZER)
    min_customers = int(app_settings.PREDICTIONS_MIN_CUSTOMERS)
    min_repeat = int(app_settings.PREDICTIONS_MIN_REPEAT_CUSTOMERS)

    transactions = _fit_and_store(
        ModelKind.BGNBD,
        summary,
        lambda: bgnbd.fit(
            summary.frequency,
            summary.recency,
            summary.T,
            penalizer=penalizer,
            min_customers=min_customers,
            min_repeat_customers=min_repeat,
        ),
    )
    spend = _fit_and_store(
        ModelKind.GAMMA_GAMMA,
        summary,
        lambda: gammagamma.fit(
            summary.frequency,
            summary.monetary_value,
            penalizer=penalizer,
            min_customers=min_repeat,
        ),
    )
    return FitReport(
        calibration_end=end,
        n_customers=len(summary),
        transactions=transactions,
        spend=spend,
    )


def _fit_and_store(
    kind: ModelKind, summary: TransactionSummary, fit: Callable[[], FitResult]
) -> PredictionModel:
    started = time.perf_counter()
    model = PredictionModel(
        kind=kind,
        calibration_end=summary.calibration_end,
        n_customers=len(summary),
        n_repeat_customers=int(np.count_nonzero(summary.frequency)),
    )
    try:
        result = fit()
    except InsufficientHistory as error:
        model.message = str(error)
        model.duration_seconds = time.perf_counter() - started
        model.save()
        logger.warning("%s fit skipped: %s", kind, error)
        return model

    model.params = result.params
    model.log_likelihood = result.log_likelihood
    model.converged = result.converged
    model.message = result.message
    model.n_customers = result.n_customers
    model.duration_seconds = time.perf_counter() - started
    with transaction.atomic():
        if result.converged:
            PredictionModel.objects.filter(kind=kind, is_active=True).update(
                is_active=False
            )
            model.is_active = True
        model.save()
    if result.converged:
        logger.info(
            "%s fitted on %d customers in %.2fs (log-likelihood %.1f), model %d active",
            kind,
            result.n_customers,
            model.duration_seconds,
            result.log_likelihood,
            model.pk,
        )
    else:
        logger.warning(
            "%s fit on %d customers did not converge (model %d kept inactive): %s",
            kind,
            result.n_customers,
            model.pk,
            result.message,
        )
    return model


def activate_model(model: PredictionModel) -> None:
    """Make ``model`` the active one of its kind; it must have converged."""
    if not model.converged:
        raise InvalidSummaryInput(
            f"Prediction model {model.pk} did not converge and cannot be activated; "
            f"activate a converged fit or refit."
        )
    with transaction.atomic():
        PredictionModel.objects.filter(kind=model.kind, is_active=True).exclude(
            pk=model.pk
        ).update(is_active=False)
        PredictionModel.objects.filter(pk=model.pk).update(is_active=True)
    model.is_active = True


def active_params() -> tuple[
    bgnbd.BGNBDParams | None, gammagamma.GammaGammaParams | None
]:
    """Return the parameters of the active models (None where there is none)."""
    active = {
        model.kind: model
        for model in PredictionModel.objects.filter(is_active=True, converged=True)
    }
    transactions = spend = None
    if ModelKind.BGNBD in active:
        try:
            transactions = bgnbd.BGNBDParams.from_dict(active[ModelKind.BGNBD].params)
        except InvalidSummaryInput as error:
            logger.error(
                "active model %d has unusable parameters: %s",
                active[ModelKind.BGNBD].pk,
                error,
            )
    if ModelKind.GAMMA_GAMMA in active:
        try:
            spend = gammagamma.GammaGammaParams.from_dict(
                active[ModelKind.GAMMA_GAMMA].params
            )
            if spend.q <= 1:
                raise InvalidSummaryInput(f"q = {spend.q} <= 1")
        except InvalidSummaryInput as error:
            logger.error(
                "active model %d has unusable parameters: %s",
                active[ModelKind.GAMMA_GAMMA].pk,
                error,
            )
            spend = None
    return transactions, spend


@dataclass(frozen=True)
class EngagementPrior:
    """Shop-wide send-time pattern and channel rates shared by all batches."""

    pattern: np.ndarray | None
    strength: float
    channels: tuple[str, ...]
    channel_rates: np.ndarray
    channel_strengths: np.ndarray


def engagement_prior(since: datetime.datetime) -> EngagementPrior:
    """Estimate the send-time and channel priors from the shop's message events."""
    totals = loading.load_engagement_cells(None, since=since, per_profile=False)
    pattern = None
    strength = float(
        app_settings.PREDICTIONS_SEND_TIME_PRIOR_STRENGTH
        or sendtime.DEFAULT_PRIOR_STRENGTH
    )
    stride = max(1, Profile.objects.count() // PRIOR_SAMPLE_PROFILES)
    if totals.counts.size:
        sample = loading.load_engagement_cells(None, since=since, sample_every=stride)
        pattern = sendtime.smoothed_pattern(totals.hours_of_week, totals.counts)
        if app_settings.PREDICTIONS_SEND_TIME_PRIOR_STRENGTH is None:
            strength = sendtime.score_send_times(
                sample.profile_ids,
                sample.hours_of_week,
                sample.counts,
                shop_pattern=pattern,
            ).prior_strength

    messages = loading.load_message_counts(
        profile_range=None, since=since, sample_every=stride
    )
    rates, strengths = affinity.channel_prior(
        messages.channels, messages.sent, messages.engaged
    )
    return EngagementPrior(
        pattern=pattern,
        strength=strength,
        channels=messages.channels,
        channel_rates=rates,
        channel_strengths=strengths,
    )


@dataclass
class ScoreReport:
    """Counts from one scoring run."""

    profiles_seen: int = 0
    predictions_written: int = 0
    purchase_scored: int = 0
    crossings: int = 0
    batches: int = 0
    duration_seconds: float = 0.0
    stages: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "profiles_seen": self.profiles_seen,
            "predictions_written": self.predictions_written,
            "purchase_scored": self.purchase_scored,
            "crossings": self.crossings,
            "batches": self.batches,
            "duration_seconds": round(self.duration_seconds, 3),
            "stages": dict(self.stages),
        }


@dataclass(frozen=True)
class _Context:
    now: datetime.datetime
    today: datetime.date
    since: datetime.datetime
    transactions: bgnbd.BGNBDParams | None
    spend: gammagamma.GammaGammaParams | None
    prior: EngagementPrior
    thresholds: tuple[float, ...]


def score_profiles(
    *, now: datetime.datetime | None = None, batch_size: int | None = None
) -> ScoreReport:
    """Score every profile with orders or message engagement, in batches.

    Each batch pulls its profiles' orders and engagement with aggregate queries,
    scores them with numpy, upserts the CustomerPrediction rows in one statement
    per chunk and then sends ``churn_risk_crossed`` for every threshold a profile's
    churn risk crossed since its previous score. Profiles without orders or
    engagement and without an earlier prediction get no row.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    size = int(batch_size or app_settings.PREDICTIONS_BATCH_SIZE)
    transactions, spend = active_params()
    since = now - datetime.timedelta(days=int(app_settings.PREDICTIONS_ENGAGEMENT_DAYS))
    context = _Context(
        now=now,
        today=loading.local_date(now),
        since=since,
        transactions=transactions,
        spend=spend,
        prior=engagement_prior(since),
        thresholds=churn_risk_thresholds(),
    )
    if transactions is None:
        logger.warning(
            "no active purchase model; scoring send time and channels only. "
            "Run manage.py omnichannel_fit_predictions."
        )

    report = ScoreReport()
    last_pk = 0
    while True:
        batch = list(
            Profile.objects.filter(loading.eligible_profiles(), pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "time_zone")[:size]
        )
        if not batch:
            break
        last_pk = batch[-1][0]
        _score_batch(batch, context, report)
        report.batches += 1

    report.duration_seconds = time.perf_counter() - started
    logger.info(
        "scored %d profiles in %d batches (%d with purchase scores, %d threshold "
        "crossings) in %.1fs",
        report.predictions_written,
        report.batches,
        report.purchase_scored,
        report.crossings,
        report.duration_seconds,
    )
    return report


def _score_batch(
    batch: list[tuple[int, str]], context: _Context, report: ScoreReport
) -> None:
    ids = np.array([pk for pk, _zone in batch], dtype=np.int64)
    in_batch = (int(ids[0]), int(ids[-1]))
    report.profiles_seen += len(batch)

    columns: dict[int, dict[str, Any]] = {}
    _add_purchase_scores(columns, in_batch, ids, context)
    _add_send_times(columns, batch, context)
    _add_channel_affinity(columns, in_batch, ids, context)
    _fill_shop_send_times(columns, context)

    previous = dict(
        CustomerPrediction.objects.filter(
            profile_id__gte=int(ids[0]), profile_id__lte=int(ids[-1])
        ).values_list("profile_id", "churn_risk")
    )
    rows = []
    for pk in ids.tolist():
        values = columns.get(pk)
        if values is None and pk not in previous:
            continue
        rows.append(_prediction_row(pk, values or {}, context))

    with transaction.atomic():
        CustomerPrediction.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["profile"],
            update_fields=list(SCORE_FIELDS),
        )
    report.predictions_written += len(rows)
    report.purchase_scored += sum(row.churn_risk is not None for row in rows)
    for row in rows:
        if row.lifecycle_stage:
            report.stages[row.lifecycle_stage] = (
                report.stages.get(row.lifecycle_stage, 0) + 1
            )
    report.crossings += _announce_crossings(rows, previous, context.thresholds)


def _add_purchase_scores(
    columns: dict[int, dict[str, Any]],
    in_batch: tuple[int, int],
    ids: np.ndarray,
    context: _Context,
) -> None:
    orders = loading.load_order_days(profile_range=in_batch, until=context.today)
    orders = orders.only(ids)
    summary = summarise_transactions(
        orders.profile_ids, orders.days, orders.amounts, calibration_end=context.today
    )
    if context.transactions is None:
        # Buyers still get send-time and channel scores.
        for pk in summary.customer_ids.tolist():
            columns.setdefault(pk, {})
        return
    if not len(summary):
        return
    scores = score_arrays(
        context.transactions,
        context.spend,
        summary.frequency,
        summary.recency,
        summary.T,
        summary.monetary_value,
        annual_discount_rate=float(app_settings.PREDICTIONS_ANNUAL_DISCOUNT_RATE),
        at_risk_from=float(app_settings.PREDICTIONS_AT_RISK_FROM),
        churning_from=float(app_settings.PREDICTIONS_CHURNING_FROM),
    )
    clv = None if scores.clv is None else np.clip(scores.clv, 0.0, MAX_STORED_CLV)
    for index, pk in enumerate(summary.customer_ids.tolist()):
        alive = float(scores.probability_alive[index])
        columns.setdefault(pk, {}).update(
            probability_alive=alive,
            churn_risk=1.0 - alive,
            expected_purchases_30d=float(scores.expected_purchases_30d[index]),
            expected_purchases_90d=float(scores.expected_purchases_90d[index]),
            probability_purchase_30d=float(scores.probability_purchase_30d[index]),
            clv_12m=None if clv is None else Decimal(f"{clv[index]:.2f}"),
            lifecycle_stage=str(scores.stage[index]),
        )


def _add_send_times(
    columns: dict[int, dict[str, Any]],
    batch: list[tuple[int, str]],
    context: _Context,
) -> None:
    if context.prior.pattern is None:
        return
    cells = loading.load_engagement_cells(
        loading.zone_groups(batch), since=context.since
    )
    scores = sendtime.score_send_times(
        cells.profile_ids,
        cells.hours_of_week,
        cells.counts,
        prior_strength=context.prior.strength,
        shop_pattern=context.prior.pattern,
    )
    for index, pk in enumerate(scores.customer_ids.tolist()):
        columns.setdefault(pk, {}).update(
            best_send_hour_of_week=int(scores.best_hour_of_week[index]),
            best_send_hour_of_day=int(scores.best_hour_of_day[index]),
            send_time_events=int(round(scores.events[index])),
        )


def _fill_shop_send_times(
    columns: dict[int, dict[str, Any]], context: _Context
) -> None:
    """Give customers without opens or clicks the shop's best hours."""
    pattern = context.prior.pattern
    if pattern is None:
        return
    shop_week = int(np.argmax(pattern))
    shop_day = int(np.argmax(pattern.reshape(7, sendtime.HOURS_PER_DAY).sum(axis=0)))
    for values in columns.values():
        values.setdefault("best_send_hour_of_week", shop_week)
        values.setdefault("best_send_hour_of_day", shop_day)


def _add_channel_affinity(
    columns: dict[int, dict[str, Any]],
    in_batch: tuple[int, int],
    ids: np.ndarray,
    context: _Context,
) -> None:
    prior = context.prior
    if not prior.channels:
        return
    messages = loading.load_message_counts(profile_range=in_batch, since=context.since)
    with_messages = set(messages.profile_ids.tolist()) & set(ids.tolist())
    scored = np.array(
        [pk for pk in ids.tolist() if pk in columns or pk in with_messages],
        dtype=np.int64,
    )
    if not scored.size:
        return
    sent, engaged = messages.rows_for(scored, prior.channels)
    scores = affinity.score_affinity(
        prior.channels,
        sent,
        engaged,
        prior=(prior.channel_rates, prior.channel_strengths),
    )
    preferred = scores.preferred_channels()
    for index, (pk, rates) in enumerate(
        zip(scored.tolist(), scores.as_dicts(), strict=True)
    ):
        columns.setdefault(pk, {}).update(
            channel_affinity=rates, preferred_channel=preferred[index]
        )


def _prediction_row(
    pk: int, values: dict[str, Any], context: _Context
) -> CustomerPrediction:
    return CustomerPrediction(
        profile_id=pk,
        probability_alive=values.get("probability_alive"),
        churn_risk=values.get("churn_risk"),
        expected_purchases_30d=values.get("expected_purchases_30d"),
        expected_purchases_90d=values.get("expected_purchases_90d"),
        probability_purchase_30d=values.get("probability_purchase_30d"),
        clv_12m=values.get("clv_12m"),
        lifecycle_stage=values.get("lifecycle_stage", ""),
        best_send_hour_of_week=values.get("best_send_hour_of_week"),
        best_send_hour_of_day=values.get("best_send_hour_of_day"),
        send_time_events=values.get("send_time_events", 0),
        channel_affinity=values.get("channel_affinity", {}),
        preferred_channel=values.get("preferred_channel", ""),
        scored_at=context.now,
    )


def crossed_thresholds(
    previous: float | None, current: float | None, thresholds: tuple[float, ...]
) -> list[float]:
    """Return the thresholds between two churn risks, in the direction of travel.

    A rise crosses ``t`` when ``previous < t <= current``; a fall when
    ``current < t <= previous``.
    """
    if previous is None or current is None:
        return []
    if current > previous:
        return [t for t in thresholds if previous < t <= current]
    return [t for t in reversed(thresholds) if current < t <= previous]


def _announce_crossings(
    rows: list[CustomerPrediction],
    previous: dict[int, float | None],
    thresholds: tuple[float, ...],
) -> int:
    crossings = {
        row.profile_id: crossed
        for row in rows
        if (
            crossed := crossed_thresholds(
                previous.get(row.profile_id), row.churn_risk, thresholds
            )
        )
    }
    if not crossings:
        return 0
    profiles = Profile.objects.in_bulk(list(crossings))
    risks = {row.profile_id: row.churn_risk for row in rows}
    sent = 0
    for pk, crossed in crossings.items():
        for threshold in crossed:
            responses = churn_risk_crossed.send_robust(
                sender=CustomerPrediction,
                profile=profiles[pk],
                previous=previous[pk],
                current=risks[pk],
                threshold=threshold,
            )
            sent += 1
            for receiver, response in responses:
                if isinstance(response, Exception):
                    logger.error(
                        "churn_risk_crossed receiver %r failed for profile %d: %r",
                        receiver,
                        pk,
                        response,
                    )
    return sent


def validate_holdout(
    *,
    calibration_end: datetime.date | None = None,
    holdout_end: datetime.date | None = None,
    rows: PurchaseRows | None = None,
    source: str = "database",
    save: bool = True,
) -> tuple[validation.HoldoutComparison, PredictionValidation | None]:
    """Fit on a calibration period and compare predictions with the holdout period.

    ``rows`` defaults to the shop's orders. Without dates, the span from the first
    order to the last (or to today, for the database) is split in two halves. With
    ``save``, the result and its plot are stored as a PredictionValidation.
    Raises InsufficientHistory when the calibration period is too thin to fit and
    InvalidSummaryInput when the dates are out of order.
    """
    from_database = rows is None
    if rows is None:
        orders = loading.load_order_days().only(loading.eligible_profile_ids())
        rows = PurchaseRows(
            customer_ids=orders.profile_ids, dates=orders.days, amounts=orders.amounts
        )
    if not len(rows):
        raise InsufficientHistory("There are no orders to validate on.")
    if from_database:
        last_day = loading.local_date(timezone.now())
    else:
        last_day = _to_date(rows.dates.max())

    first_day = _to_date(rows.dates.min())
    holdout_end = holdout_end or last_day
    if calibration_end is None:
        calibration_end = first_day + (holdout_end - first_day) / 2
    if not first_day <= calibration_end < holdout_end:
        raise InvalidSummaryInput(
            f"Dates must satisfy first order ({first_day}) <= calibration end "
            f"({calibration_end}) < holdout end ({holdout_end})."
        )

    comparison = validation.compare_holdout(
        rows.customer_ids,
        rows.dates,
        rows.amounts,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        penalizer=float(app_settings.PREDICTIONS_PENALIZER),
        min_customers=int(app_settings.PREDICTIONS_MIN_CUSTOMERS),
        min_repeat_customers=int(app_settings.PREDICTIONS_MIN_REPEAT_CUSTOMERS),
    )
    record = None
    if save:
        record = PredictionValidation.objects.create(
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            source=source[:255],
            n_customers=len(comparison.summary),
            params=comparison.fit.params,
            converged=comparison.fit.converged,
            predicted_purchases=comparison.predicted_total,
            actual_purchases=comparison.actual_total,
            mean_absolute_error=comparison.mean_absolute_error,
            table=[row.as_dict() for row in comparison.table],
            plot_png=validation.render_plot(comparison),
        )
    logger.info(
        "holdout validation on %d customers: predicted %.1f, actual %.0f purchases",
        len(comparison.summary),
        comparison.predicted_total,
        comparison.actual_total,
    )
    return comparison, record


def _to_date(value: Any) -> datetime.date:
    return datetime.date.fromisoformat(str(np.asarray(value).astype("datetime64[D]")))
