"""Starting, pausing and completing experiments, and the properties events carry."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from omnichannel.exceptions import ExperimentError
from omnichannel.experiments import signals
from omnichannel.experiments.models import Experiment, Variant

logger = logging.getLogger(__name__)

Status = Experiment.Status
HOLDOUT_KEY = "holdout"


def validate_experiment(experiment: Experiment) -> None:
    """Raise ExperimentError unless the experiment can run as configured.

    It needs exactly one control, a positive weight on at least one variant, and
    two arms to compare: two variants, or one variant and a holdout group.
    """
    variants = list(experiment.variants.all())
    if not variants:
        raise ExperimentError(
            f"Experiment {experiment.key!r} has no variants; add a control and at "
            "least one other variant.",
            field="variants",
        )
    controls = [variant for variant in variants if variant.is_control]
    if len(controls) != 1:
        raise ExperimentError(
            f"Experiment {experiment.key!r} has {len(controls)} control variants; "
            "mark exactly one variant as the control.",
            field="is_control",
        )
    if not any(variant.weight > 0 for variant in variants):
        raise ExperimentError(
            f"Every variant of experiment {experiment.key!r} has weight 0; give at "
            "least one a positive weight.",
            field="weight",
        )
    if len(variants) < 2 and experiment.holdout_share <= 0:
        raise ExperimentError(
            f"Experiment {experiment.key!r} has one variant and no holdout, so there "
            "is nothing to compare; add a variant or set a holdout share.",
            field="holdout_share",
        )
    if experiment.conversion_window <= timedelta():
        raise ExperimentError(
            "The conversion window must be positive.", field="conversion_window"
        )
    reserved = [variant.key for variant in variants if variant.key == HOLDOUT_KEY]
    if reserved:
        raise ExperimentError(
            f"{HOLDOUT_KEY!r} is reserved for the holdout group; rename that variant.",
            field="key",
        )
    _validate_target(experiment)


def _validate_target(experiment: Experiment) -> None:
    if experiment.target == Experiment.Target.JOURNEY_STEP and (
        experiment.target_ref.count("/") != 1
        or not all(experiment.target_ref.split("/"))
    ):
        raise ExperimentError(
            f"Experiment {experiment.key!r} tests a journey step, so its target "
            f"reference must read '<journey slug>/<step key>', not "
            f"{experiment.target_ref!r}.",
            field="target_ref",
        )
    if not experiment.target_ref:
        return
    clash = (
        Experiment.objects.filter(
            status=Experiment.Status.RUNNING,
            target=experiment.target,
            target_ref=experiment.target_ref,
        )
        .exclude(pk=experiment.pk)
        .values_list("key", flat=True)
        .first()
    )
    if clash:
        raise ExperimentError(
            f"Experiment {clash!r} already tests {experiment.target_ref!r}; "
            "complete or pause it before starting another.",
            field="target_ref",
        )


def _require(experiment: Experiment, allowed: tuple[str, ...], action: str) -> None:
    if experiment.status not in allowed:
        raise ExperimentError(
            f"Cannot {action} experiment {experiment.key!r}: it is "
            f"{experiment.get_status_display()}.",
            field="status",
        )


def start_experiment(experiment: Experiment) -> Experiment:
    """Validate a draft or paused experiment and set it running."""
    _require(experiment, (Status.DRAFT, Status.PAUSED), "start")
    validate_experiment(experiment)
    experiment.status = Status.RUNNING
    experiment.started_at = experiment.started_at or timezone.now()
    experiment.save(update_fields=["status", "started_at", "updated_at"])
    logger.info("experiment %s started", experiment.pk)
    return experiment


def pause_experiment(experiment: Experiment) -> Experiment:
    """Stop assigning new profiles; those already assigned keep their arm."""
    _require(experiment, (Status.RUNNING,), "pause")
    experiment.status = Status.PAUSED
    experiment.save(update_fields=["status", "updated_at"])
    logger.info("experiment %s paused", experiment.pk)
    return experiment


def complete_experiment(
    experiment: Experiment, winner: Variant | None = None, *, automatic: bool = False
) -> Experiment:
    """End the experiment; with a winner, everyone gets that variant from now on."""
    _require(experiment, (Status.RUNNING, Status.PAUSED), "complete")
    if winner is not None and winner.experiment_id != experiment.pk:
        raise ExperimentError(
            f"Variant {winner.key!r} belongs to another experiment.", field="winner"
        )
    now = timezone.now()
    with transaction.atomic():
        experiment.status = Status.COMPLETED
        experiment.ended_at = now
        experiment.winner = winner
        experiment.promoted_at = now if winner is not None else None
        experiment.save(
            update_fields=["status", "ended_at", "winner", "promoted_at", "updated_at"]
        )
        if winner is not None:
            signals.winner_promoted.send(
                sender=Experiment,
                experiment=experiment,
                variant=winner,
                automatic=automatic,
            )
    logger.info(
        "experiment %s completed, winner %s",
        experiment.pk,
        winner.pk if winner is not None else None,
    )
    return experiment


def event_properties(experiment: Experiment, variant: Variant | None) -> dict[str, Any]:
    """Return the properties to add to message and placement events of an arm.

    Metrics find an experiment's events by ``experiment_id`` (an integer) and
    ``variant`` (the variant key, ``"holdout"`` for the holdout group).
    """
    return {
        "experiment_id": experiment.pk,
        "variant": variant.key if variant is not None else HOLDOUT_KEY,
    }
