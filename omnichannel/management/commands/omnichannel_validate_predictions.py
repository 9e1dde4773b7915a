from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnichannel.predictions import services, validation
from omnichannel.predictions.datasets import read_cdnow
from omnichannel.predictions.exceptions import PredictionError


class Command(BaseCommand):
    help = (
        "Fit BG/NBD on a calibration period, predict the holdout period that "
        "follows, print predicted against actual purchases and save a plot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--calibration-end",
            type=datetime.date.fromisoformat,
            help="Last day of the calibration period, YYYY-MM-DD (default: the "
            "middle of the order history).",
        )
        parser.add_argument(
            "--holdout-end",
            type=datetime.date.fromisoformat,
            help="Last day of the holdout period, YYYY-MM-DD (default: today, or "
            "the last purchase in --file).",
        )
        parser.add_argument(
            "--file",
            type=Path,
            help="Read purchases from a whitespace-separated file in the CDNOW "
            "layout (customer id, [sample id,] YYYYMMDD date, count, value) "
            "instead of the database.",
        )
        parser.add_argument(
            "--output",
            type=Path,
            help="Also write the plot to this PNG file.",
        )
        parser.add_argument(
            "--no-save",
            action="store_true",
            help="Do not store the result in the database (nor show it in the admin).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = None
        source = "database"
        if options["file"] is not None:
            if not options["file"].is_file():
                raise CommandError(f"--file {options['file']} does not exist.")
            try:
                rows = read_cdnow(options["file"])
            except PredictionError as error:
                raise CommandError(str(error)) from error
            source = options["file"].name
        try:
            comparison, record = services.validate_holdout(
                calibration_end=options["calibration_end"],
                holdout_end=options["holdout_end"],
                rows=rows,
                source=source,
                save=not options["no_save"],
            )
        except PredictionError as error:
            raise CommandError(str(error)) from error

        self.stdout.write(validation.format_report(comparison))
        if options["output"] is not None:
            png = record.plot_png if record is not None else None
            options["output"].write_bytes(
                bytes(png) if png is not None else validation.render_plot(comparison)
            )
            self.stdout.write(f"Plot written to {options['output']}.")
        if record is not None:
            self.stdout.write(
                f"Stored as prediction validation {record.pk} (shown in the admin)."
            )
