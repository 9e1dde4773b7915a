from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from omnichannel.journeys.engine import run_due
from omnichannel.journeys.tasks import enroll_date_triggers


class Command(BaseCommand):
    help = (
        "Advance due journey enrollments: the tick of the embedded setup. Production "
        "runs the same work as a celery beat task."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--until",
            help="ISO 8601 datetime to run the engine at (default: now). Runs are "
            "advanced up to that moment.",
        )
        parser.add_argument(
            "--loop",
            type=float,
            metavar="SECONDS",
            help="Keep running, one tick every SECONDS.",
        )
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, **options: Any) -> None:
        until = None
        if options["until"]:
            until = parse_datetime(options["until"])
            if until is None:
                raise CommandError(
                    f"--until {options['until']!r} is not an ISO 8601 datetime such "
                    "as 1998-06-30T23:59:00+00:00."
                )
            if timezone.is_naive(until):
                until = timezone.make_aware(until)
        while True:
            now = until or timezone.now()
            enrolled = enroll_date_triggers(now)
            advanced = run_due(now, batch_size=options["batch_size"])
            self.stdout.write(
                f"{now:%Y-%m-%d %H:%M} UTC: {advanced} enrollments advanced, "
                f"{enrolled} enrolled by date"
            )
            if not options["loop"]:
                break
            time.sleep(options["loop"])
