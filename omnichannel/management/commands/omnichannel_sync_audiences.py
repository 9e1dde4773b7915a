"""Sync ad platform audiences now, or install their celery beat schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnichannel.audiences import services
from omnichannel.audiences.models import Audience, SyncRun
from omnichannel.audiences.schedule import DEFAULT_EVERY, install_periodic_task


class Command(BaseCommand):
    help = (
        "Sync the ad audiences that are due (or those given with --audience) in this "
        "process, or install the celery beat task with --install-schedule."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--audience",
            type=int,
            nargs="+",
            metavar="ID",
            help="Sync these audiences now, due or not.",
        )
        parser.add_argument(
            "--install-schedule",
            action="store_true",
            help="Create or update the django-celery-beat task and exit.",
        )
        parser.add_argument(
            "--every",
            type=int,
            default=int(DEFAULT_EVERY.total_seconds() // 60),
            metavar="MINUTES",
            help="Minutes between beat runs, with --install-schedule (default 15).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["install_schedule"]:
            if options["every"] < 1:
                raise CommandError("--every must be at least 1 minute.")
            task = install_periodic_task(timedelta(minutes=options["every"]))
            self.stdout.write(
                f"Installed periodic task {task.name!r}: {task.interval}."
            )
            return

        if options["audience"]:
            found = set(
                Audience.objects.filter(pk__in=options["audience"]).values_list(
                    "pk", flat=True
                )
            )
            missing = sorted(set(options["audience"]) - found)
            if missing:
                raise CommandError(
                    f"No audience with id {', '.join(map(str, missing))}."
                )
            targets = [(pk, False) for pk in options["audience"]]
        else:
            targets = services.claim_due_audiences()

        if not targets:
            self.stdout.write("No audience is due.")
        for audience_id, removals_only in targets:
            run = services.sync_audience(
                audience_id, SyncRun.Trigger.COMMAND, removals_only=removals_only
            )
            self.stdout.write(describe(audience_id, run))


def describe(audience_id: int, run: SyncRun | None) -> str:
    if run is None:
        return f"audience {audience_id}: skipped, another sync is running"
    line = (
        f"audience {audience_id}: {run.status}, {run.added} added, "
        f"{run.removed} removed, {run.rejected} rejected"
    )
    return f"{line}; {run.error}" if run.error else line
