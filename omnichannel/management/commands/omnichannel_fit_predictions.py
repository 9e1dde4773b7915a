from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnichannel.predictions import services
from omnichannel.predictions.models import PredictionModel


class Command(BaseCommand):
    help = (
        "Fit the BG/NBD purchase model and the Gamma-Gamma spend model on all "
        "orders, activate converged fits and rescore every profile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--calibration-end",
            type=datetime.date.fromisoformat,
            help="Last order date to fit on, YYYY-MM-DD (default: today).",
        )
        parser.add_argument(
            "--no-score",
            action="store_true",
            help="Only fit; do not rescore the profiles.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = services.fit_from_database(calibration_end=options["calibration_end"])
        self.stdout.write(
            f"Orders up to {report.calibration_end}: {report.n_customers} customers."
        )
        failed = []
        for model in (report.transactions, report.spend):
            self.stdout.write(self._describe(model))
            if model.params and not model.converged:
                failed.append(model)

        if report.activated and not options["no_score"]:
            scores = services.score_profiles()
            stages = ", ".join(f"{k} {v}" for k, v in sorted(scores.stages.items()))
            self.stdout.write(
                f"Scored {scores.predictions_written} profiles in "
                f"{scores.duration_seconds:.1f}s ({stages or 'no purchase scores'}); "
                f"{scores.crossings} churn-risk threshold crossings."
            )
        if failed:
            raise CommandError(
                "The fit did not converge for "
                + ", ".join(model.get_kind_display() for model in failed)
                + "; the previous active models stay in use. See the messages above."
            )

    def _describe(self, model: PredictionModel) -> str:
        name = model.get_kind_display()
        if not model.params:
            return f"{name}: not fitted ({model.message})"
        params = ", ".join(f"{key}={value:.4f}" for key, value in model.params.items())
        state = "active" if model.is_active else "NOT CONVERGED, kept inactive"
        return (
            f"{name}: {params}; log-likelihood {model.log_likelihood:.1f} on "
            f"{model.n_customers} customers in {model.duration_seconds:.2f}s "
            f"[{state}] {model.message}"
        )
