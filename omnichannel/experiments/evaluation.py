"""Comparisons between arms, and promotion of a winner once the result is clear.

Each variant is compared with the control on every metric. With more than one
variant the significance level is divided by the number of comparisons (Bonferroni),
so that testing three variants does not triple the false positives. Every arm is
also compared with the holdout group on conversion rate and revenue per recipient:
that difference is the incremental lift the message or placement brings.
"""

from __future__ import annotations

import logging
import math

from django.utils.translation import gettext_lazy as _

from omnichannel.exceptions import InsufficientData
from omnichannel.experiments import stats
from omnichannel.experiments.metrics import (
    RATE_METRICS,
    ArmMetrics,
    Comparison,
    ExperimentResults,
    Metric,
    collect_arms,
)
from omnichannel.experiments.models import Experiment, Variant
from omnichannel.experiments.services import complete_experiment

logger = logging.getLogger(__name__)

ALL_METRICS = (*RATE_METRICS, Metric.REVENUE_PER_RECIPIENT)
HOLDOUT_METRICS = (Metric.CONVERSION_RATE, Metric.REVENUE_PER_RECIPIENT)


def compare(
    metric: str, reference: ArmMetrics, arm: ArmMetrics, alpha: float
) -> Comparison:
    """Compare ``arm`` with ``reference`` on one metric at significance ``alpha``."""
    comparison = Comparison(
        metric=metric,
        arm=arm.key,
        reference=reference.key,
        reference_value=reference.value(metric),
        value=arm.value(metric),
    )
    if metric == Metric.OPEN_RATE and (arm.opened is None or reference.opened is None):
        comparison.note = str(_("Placements have no open rate."))
        return comparison
    try:
        if metric == Metric.REVENUE_PER_RECIPIENT:
            result = stats.revenue_per_recipient_test(
                _summary(reference), _summary(arm)
            )
            comparison.difference = result.difference
            comparison.relative_lift = result.relative_lift
        else:
            successes_ref, trials_ref = reference.counts(metric)
            successes, trials = arm.counts(metric)
            result = stats.two_proportion_ztest(
                successes_ref, trials_ref, successes, trials
            )
            comparison.difference = result.difference
            comparison.relative_lift = result.relative_lift
            comparison.probability_to_beat = stats.probability_to_beat_control(
                successes_ref, trials_ref, successes, trials
            )
    except InsufficientData as error:
        comparison.note = str(error)
        return comparison
    comparison.p_value = result.p_value
    comparison.ci_low = result.ci_low
    comparison.ci_high = result.ci_high
    comparison.significant = result.p_value < alpha
    return comparison


def _summary(arm: ArmMetrics) -> stats.SampleSummary:
    return stats.SampleSummary.from_sums(
        arm.assigned, float(arm.revenue), arm.revenue_squares
    )


def compare_arms(experiment: Experiment, arms: list[ArmMetrics]) -> ExperimentResults:
    """Build the results: comparisons, the sample size needed, the ratio check."""
    alpha = float(experiment.significance_level)
    control = next((arm for arm in arms if arm.is_control), None)
    holdout = next((arm for arm in arms if arm.is_holdout), None)
    challengers = [arm for arm in arms if not arm.is_control and not arm.is_holdout]
    adjusted = alpha / max(1, len(challengers))
    results = ExperimentResults(
        experiment=experiment, arms=arms, alpha=alpha, adjusted_alpha=adjusted
    )
    if control is not None:
        for arm in challengers:
            for metric in ALL_METRICS:
                results.comparisons.append(compare(metric, control, arm, adjusted))
    if holdout is not None:
        for arm in arms:
            if arm.is_holdout:
                continue
            for metric in HOLDOUT_METRICS:
                results.holdout_comparisons.append(compare(metric, holdout, arm, alpha))
    if control is not None:
        results.sample_size_per_arm = needed_sample_size(experiment, control, adjusted)
    results.sample_ratio_p_value = _sample_ratio(experiment, arms)
    return results


def needed_sample_size(
    experiment: Experiment, control: ArmMetrics, alpha: float
) -> int | None:
    """Return the recipients per arm needed to detect the experiment's minimum lift
    on its primary metric, from the control's current value; None while unknown."""
    lift = float(experiment.minimum_detectable_lift)
    try:
        if experiment.metric == Metric.REVENUE_PER_RECIPIENT:
            summary = _summary(control)
            if summary.n < 2 or summary.mean <= 0 or summary.variance <= 0:
                return None
            return stats.sample_size_for_mean_lift(
                summary.mean, math.sqrt(summary.variance), lift, alpha=alpha
            )
        successes, trials = control.counts(experiment.metric)
        if trials == 0 or not 0 < successes < trials:
            return None
        return stats.sample_size_for_lift(successes / trials, lift, alpha=alpha)
    except ValueError:
        # The lift takes the control's rate past 100%, so no sample size exists.
        return None


def _sample_ratio(experiment: Experiment, arms: list[ArmMetrics]) -> float | None:
    share = float(experiment.holdout_share)
    weighted = [arm for arm in arms if arm.weight > 0]
    total_weight = sum(arm.weight for arm in weighted)
    observed, expected = [], []
    for arm in weighted:
        observed.append(arm.assigned)
        expected.append((1 - share) * arm.weight / total_weight)
    holdout = next((arm for arm in arms if arm.is_holdout), None)
    if holdout is not None and share > 0:
        observed.append(holdout.assigned)
        expected.append(share)
    if len(observed) < 2 or sum(observed) == 0:
        return None
    # NOTE: weights changed during the test make this check fire; it assumes the
    # current weights held from the start.
    return stats.sample_ratio_mismatch(observed, expected)


def find_winner(results: ExperimentResults) -> tuple[Variant | None, str]:
    """Return the variant to promote on the primary metric, with the reason."""
    experiment = results.experiment
    control = results.control
    if control is None:
        return None, str(_("The experiment has no control."))

    contenders = [arm for arm in results.arms if not arm.is_holdout]
    short = [
        arm.key for arm in contenders if arm.assigned < experiment.minimum_sample_size
    ]
    if short:
        return None, str(
            _("Waiting for %(count)d recipients in every arm (short: %(arms)s).")
            % {"count": experiment.minimum_sample_size, "arms": ", ".join(short)}
        )

    primary = results.primary()
    if not primary:
        return None, str(_("There is no variant to compare with the control."))
    if (
        results.sample_ratio_p_value is not None
        and results.sample_ratio_p_value < 0.001
    ):
        return None, str(
            _(
                "Arm sizes do not match their weights (sample ratio mismatch); check "
                "assignment before trusting the result."
            )
        )

    better = [c for c in primary if c.better]
    if better:
        best = max(better, key=lambda c: c.value or 0)
        return results.arm(best.arm).variant, str(
            _("%(arm)s beats the control on %(metric)s (p = %(p).4f).")
            % {"arm": best.arm, "metric": best.metric, "p": best.p_value}
        )
    if all(c.worse for c in primary):
        return control.variant, str(
            _("The control beats every variant on %(metric)s.")
            % {"metric": experiment.metric}
        )
    return None, str(_("No significant difference yet."))


def experiment_results(experiment: Experiment) -> ExperimentResults:
    """Compute arm metrics and the comparisons with the control and the holdout."""
    return compare_arms(experiment, collect_arms(experiment))


def evaluate_experiment(experiment: Experiment) -> ExperimentResults:
    """Compute the results and, if the experiment auto-promotes, promote a winner."""
    results = experiment_results(experiment)
    if experiment.auto_promote and experiment.status == Experiment.Status.RUNNING:
        winner, reason = find_winner(results)
        if winner is not None:
            complete_experiment(experiment, winner, automatic=True)
            logger.info(
                "experiment %s promoted variant %s automatically",
                experiment.pk,
                winner.pk,
            )
        else:
            logger.debug("experiment %s not promoted: %s", experiment.pk, reason)
    return results


def evaluate_running_experiments() -> int:
    """Evaluate every running experiment that auto-promotes; return how many."""
    count = 0
    running = Experiment.objects.filter(
        status=Experiment.Status.RUNNING, auto_promote=True
    )
    for experiment in running.iterator():
        evaluate_experiment(experiment)
        count += 1
    logger.info("evaluated %d running experiments", count)
    return count
