from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from omnichannel.segments.membership import rebuild_segments
from omnichannel.segments.models import Segment


class Command(BaseCommand):
    help = (
        "Rebuild the members of segments, each after the segments its rule reads. "
        "Without arguments every active segment is rebuilt."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "slugs", nargs="*", help="Slugs of the segments to rebuild."
        )
        parser.add_argument(
            "--periodic",
            action="store_true",
            help="Rebuild only segments whose rules read the clock or batch scores, "
            "as the periodic task does.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slugs = options["slugs"] or None
        if slugs:
            known = set(
                Segment.objects.filter(slug__in=slugs).values_list("slug", flat=True)
            )
            missing = sorted(set(slugs) - known)
            if missing:
                raise CommandError(f"No segment has the slug {', '.join(missing)}.")
        changes = rebuild_segments(slugs, periodic_only=options["periodic"])
        for slug, change in changes.items():
            self.stdout.write(
                f"{slug}: {len(change.entered)} entered, {len(change.exited)} exited"
            )
        self.stdout.write(f"rebuilt {len(changes)} segments")
