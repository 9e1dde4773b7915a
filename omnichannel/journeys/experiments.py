"""A/B tests of journey messages: the customer's arm, chosen at send time.

An experiment tests a send step when it targets the step
(``target="journey_step"``, ``target_ref="<journey slug>/<step key>"``). It also
tests every step that sends a template it targets (``target="message"``,
``target_ref="<template slug>"``), unless a step experiment applies. Only running
experiments change sends. The
variant's payload may name another ``template`` of the same channel and replace the
``subject``, ``preheader`` or ``body`` text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from omnichannel.experiments.assignment import assign
from omnichannel.experiments.models import Experiment, Variant
from omnichannel.experiments.services import event_properties
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

#: How long the list of running message experiments is reused, in seconds. Starting
#: or stopping an experiment clears it in this process at once.
CACHE_SECONDS = 10.0
_cache: dict[str, Any] = {"at": None, "experiments": []}


def clear_cache() -> None:
    """Forget the running experiments, so the next send reads them again."""
    _cache["at"] = None
    _cache["checked"] = {}


def running_experiments() -> list[Experiment]:
    """Return the running experiments of messages and journey steps, cached."""
    now = time.monotonic()
    if _cache["at"] is None or now - _cache["at"] > CACHE_SECONDS:
        _cache["experiments"] = list(
            Experiment.objects.filter(
                status=Experiment.Status.RUNNING,
                target__in=[Experiment.Target.MESSAGE, Experiment.Target.JOURNEY_STEP],
            )
            .exclude(target_ref="")
            .order_by("-target", "id")
        )
        _cache["at"] = now
    return _cache["experiments"]


@dataclass
class Arm:
    """The experiment a send takes part in and the customer's variant."""

    experiment: Experiment
    variant: Variant | None
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def is_holdout(self) -> bool:
        return self.variant is None

    def context(self) -> dict[str, Any]:
        """Return what the delivery's context records of the arm."""
        values: dict[str, Any] = event_properties(self.experiment, self.variant)
        if self.overrides:
            values["overrides"] = dict(self.overrides)
        return values


def find_experiment(journey_slug: str, step_key: str, template_slug: str) -> Any:
    """Return the running experiment of this step or its template, or None."""
    step_ref = f"{journey_slug}/{step_key}"
    for experiment in running_experiments():
        if experiment.target == Experiment.Target.JOURNEY_STEP:
            if experiment.target_ref == step_ref:
                return experiment
        elif experiment.target_ref == template_slug:
            return experiment
    return None


def payload_problem(experiment: Experiment, channel: str) -> str | None:
    """Return why the variants cannot be sent on ``channel``, or None.

    Every variant's template must exist for the channel and every text it replaces
    must compile, so that no arm loses its message to a broken variant.
    """
    from omnichannel.channels.models import MessageTemplate
    from omnichannel.channels.rendering import is_html_field, source_error

    for variant in experiment.variants.all():
        payload = variant.payload if isinstance(variant.payload, dict) else {}
        slug = payload.get("template")
        if (
            slug
            and not MessageTemplate.objects.filter(slug=slug, channel=channel).exists()
        ):
            return (
                f"variant {variant.key!r} names template {slug!r}, which is not "
                f"a {channel} template"
            )
        for name in ("subject", "preheader", "body"):
            text = payload.get(name)
            if isinstance(text, str) and text:
                error = source_error(text, is_html_field(channel, name))
                if error:
                    return f"variant {variant.key!r} {name}: {error}"
    return None


def _usable(experiment: Experiment, channel: str) -> bool:
    checked = _cache.setdefault("checked", {})
    key = (experiment.pk, channel, _cache["at"])
    if key not in checked:
        problem = payload_problem(experiment, channel)
        if problem:
            logger.error(
                "experiment %s is not applied to %s sends: %s",
                experiment.key,
                channel,
                problem,
            )
        checked[key] = problem is None
    return checked[key]


def arm_for(
    profile: Profile,
    journey_slug: str,
    step_key: str,
    template_slug: str,
    channel: str = "",
) -> Arm | None:
    """Assign ``profile`` to the experiment of this send, if one runs; else None.

    An experiment whose variants cannot be sent on the channel is left out (and
    logged), so the step sends its own template.
    """
    experiment = find_experiment(journey_slug, step_key, template_slug)
    if experiment is None:
        return None
    if channel and not _usable(experiment, channel):
        return None
    variant = assign(experiment, profile)
    arm = Arm(experiment=experiment, variant=variant)
    if variant is not None:
        payload = variant.payload if isinstance(variant.payload, dict) else {}
        arm.overrides = {
            name: payload[name]
            for name in ("subject", "preheader", "body")
            if isinstance(payload.get(name), str)
        }
    return arm


def variant_template(arm: Arm, template: Any, channel: str) -> Any:
    """Return the template the arm's payload names, or ``template`` when it names
    none or one that is missing or of another channel (logged)."""
    from omnichannel.channels.models import MessageTemplate

    payload = arm.variant.payload if arm.variant is not None else {}
    slug = payload.get("template") if isinstance(payload, dict) else None
    if not isinstance(slug, str) or not slug or slug == template.slug:
        return template
    chosen = MessageTemplate.objects.filter(slug=slug, channel=channel).first()
    if chosen is None:
        logger.warning(
            "experiment %s variant %s names template %r, which is not a %s "
            "template; sending %r instead",
            arm.experiment.key,
            arm.variant.key if arm.variant is not None else "",
            slug,
            channel,
            template.slug,
        )
        return template
    return chosen
