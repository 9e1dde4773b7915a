from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from omnichannel.profiles.retention import apply_event_retention


class Command(BaseCommand):
    help = (
        "Delete events older than the retention period of their type "
        "(setting EVENT_RETENTION). Order events are kept."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the events that would be deleted and delete nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = apply_event_retention(dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        for name, count in sorted(counts.items()):
            self.stdout.write(f"{name:<24}{count:>10}")
        self.stdout.write(f"{verb} {sum(counts.values())} events in total")
