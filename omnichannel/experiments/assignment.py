"""Deterministic assignment of profiles to the arms of an experiment.

A profile's position is the first 64 bits of SHA-256 over ``"<experiment key>:<profile
uuid>"``, read as a fraction in [0, 1). The same profile therefore lands in the same
arm in every process and on every machine. Positions below the holdout share form the
holdout group. The rest are spread over the variants in proportion to their weights,
in the order the variants were created. The first assignment is stored, so later
changes of weights or holdout share move nobody who was already assigned.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction

from omnichannel.exceptions import ExperimentError
from omnichannel.experiments import signals
from omnichannel.experiments.models import Assignment, Experiment, Variant
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

_SCALE = float(2**64)


def bucket(experiment_key: str, profile_uuid: UUID | str) -> float:
    """Return the profile's fixed position in [0, 1) within one experiment."""
    digest = hashlib.sha256(f"{experiment_key}:{profile_uuid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def choose_arm(
    position: float, holdout_share: Decimal | float, variants: Sequence[Variant]
) -> Variant | None:
    """Return the variant at ``position``, or None when it falls in the holdout."""
    holdout = float(holdout_share)
    if position < holdout:
        return None
    eligible = [variant for variant in variants if variant.weight > 0]
    if not eligible:
        raise ExperimentError(
            "No variant has a weight above 0; give at least one variant a positive "
            "weight.",
            field="weight",
        )
    # Positions above the holdout are uniform again once rescaled to [0, 1).
    scaled = (position - holdout) / (1 - holdout)
    target = scaled * sum(variant.weight for variant in eligible)
    cumulative = 0.0
    for variant in eligible:
        cumulative += variant.weight
        if target < cumulative:
            return variant
    return eligible[-1]


def fallback_variant(experiment: Experiment) -> Variant:
    """Return what everyone gets outside a running test: the winner, else the control.

    Raises ExperimentError when the experiment has neither.
    """
    if experiment.winner_id is not None:
        return experiment.winner  # type: ignore[return-value]
    control = experiment.control
    if control is None:
        raise ExperimentError(
            f"Experiment {experiment.key!r} has no control variant; mark one variant "
            "as the control.",
            field="is_control",
        )
    return control


def _live_profile(profile: Profile) -> Profile:
    # A merged profile's history moved to the survivor, and so did its assignments.
    seen = {profile.pk}
    while profile.merged_into_id is not None and profile.merged_into_id not in seen:
        seen.add(profile.merged_into_id)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


def assign(experiment: Experiment, profile: Profile) -> Variant | None:
    """Return the profile's variant, or None when it is in the holdout group.

    While the experiment runs, the first call stores an Assignment and later calls
    read it. A completed experiment returns its winner (else the control) to
    everyone. A draft or paused one returns the stored arm of a profile already
    assigned and the control to anyone else, storing nothing.
    """
    profile = _live_profile(profile)
    if experiment.status == Experiment.Status.COMPLETED:
        return fallback_variant(experiment)

    existing = (
        Assignment.objects.filter(experiment=experiment, profile=profile)
        .select_related("variant")
        .first()
    )
    if existing is not None:
        return existing.variant
    if experiment.status != Experiment.Status.RUNNING:
        return fallback_variant(experiment)

    variants = list(experiment.variants.order_by("id"))
    arm = choose_arm(
        bucket(experiment.key, profile.uuid), experiment.holdout_share, variants
    )
    try:
        with transaction.atomic():
            Assignment.objects.create(
                experiment=experiment, profile=profile, variant=arm
            )
            signals.variant_assigned.send(
                sender=Experiment, experiment=experiment, profile=profile, variant=arm
            )
    except IntegrityError:
        # Another process assigned the same profile a moment ago; its row wins.
        stored = Assignment.objects.select_related("variant").get(
            experiment=experiment, profile=profile
        )
        return stored.variant
    return arm


def assign_many(
    experiment: Experiment, profile_ids: Iterable[int]
) -> dict[int, Variant | None]:
    """Assign many profiles at once; return profile id -> variant (None = holdout).

    Works like :func:`assign` for each profile with a constant number of queries,
    for journeys that send a step to a batch. Unknown profile ids are left out.
    ``variant_assigned`` is not sent for rows written here.
    """
    ids = list(dict.fromkeys(profile_ids))
    if experiment.status == Experiment.Status.COMPLETED:
        arm = fallback_variant(experiment)
        return dict.fromkeys(
            Profile.objects.filter(pk__in=ids).values_list("pk", flat=True), arm
        )

    variants = {variant.pk: variant for variant in experiment.variants.order_by("id")}
    stored = dict(
        Assignment.objects.filter(
            experiment=experiment, profile_id__in=ids
        ).values_list("profile_id", "variant_id")
    )
    result: dict[int, Variant | None] = {
        profile_id: variants.get(variant_id) if variant_id else None
        for profile_id, variant_id in stored.items()
    }
    missing = [pk for pk in ids if pk not in stored]
    if not missing:
        return result
    uuids = dict(Profile.objects.filter(pk__in=missing).values_list("pk", "uuid"))
    if experiment.status != Experiment.Status.RUNNING:
        arm = fallback_variant(experiment)
        result.update(dict.fromkeys(uuids, arm))
        return result

    ordered = list(variants.values())
    chosen = {
        pk: choose_arm(bucket(experiment.key, uuid), experiment.holdout_share, ordered)
        for pk, uuid in uuids.items()
    }
    Assignment.objects.bulk_create(
        [
            Assignment(experiment=experiment, profile_id=pk, variant=arm)
            for pk, arm in chosen.items()
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    # Re-read, because a concurrent writer may have stored some of them first.
    written = dict(
        Assignment.objects.filter(
            experiment=experiment, profile_id__in=list(chosen)
        ).values_list("profile_id", "variant_id")
    )
    for pk, variant_id in written.items():
        result[pk] = variants.get(variant_id) if variant_id else None
    logger.info("assigned %d profiles in experiment %s", len(written), experiment.pk)
    return result
