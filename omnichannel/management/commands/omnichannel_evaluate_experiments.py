from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnichannel.experiments.evaluation import evaluate_experiment, find_winner
from omnichannel.experiments.models import Experiment


class Command(BaseCommand):
    help = (
        "Print the results of running experiments (or of the given keys) and promote "
        "winners of those that auto-promote."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "keys", nargs="*", help="Experiment keys; default: running."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keys = options["keys"]
        if keys:
            experiments = list(Experiment.objects.filter(key__in=keys))
            missing = sorted(set(keys) - {e.key for e in experiments})
            if missing:
                raise CommandError(f"No experiment with key {', '.join(missing)}.")
        else:
            experiments = list(
                Experiment.objects.filter(status=Experiment.Status.RUNNING)
            )
        for experiment in experiments:
            results = evaluate_experiment(experiment)
            self.stdout.write(f"{experiment.key} ({experiment.get_status_display()})")
            self.stdout.write(
                f"  {'arm':<20}{'assigned':>10}{'converted':>10}{'revenue':>12}"
            )
            for arm in results.arms:
                self.stdout.write(
                    f"  {arm.key:<20}{arm.assigned:>10}{arm.converted:>10}"
                    f"{arm.revenue:>12}"
                )
            _, reason = find_winner(results)
            winner = experiment.winner.key if experiment.winner_id else "-"
            self.stdout.write(f"  winner: {winner}; {reason}")
