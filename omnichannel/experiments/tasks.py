"""Celery tasks of the experiments domain."""

from __future__ import annotations

from celery import shared_task

from omnichannel.experiments.evaluation import evaluate_running_experiments


@shared_task(name="omnichannel.experiments.evaluate")
def evaluate_experiments() -> int:
    """Evaluate running experiments and promote winners; schedule it hourly or so."""
    return evaluate_running_experiments()
