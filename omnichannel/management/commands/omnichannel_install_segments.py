from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.defaults import default_segments
from omnichannel.segments.membership import rebuild_segments
from omnichannel.segments.models import Segment

PERIODIC_TASK_NAME = "omnichannel: rebuild time-dependent segments"


class Command(BaseCommand):
    help = (
        "Install the default segments (RFM groups, VIP, cart abandoners, lapsed high "
        "spenders), build their members, and schedule the periodic rebuild."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--vip-min-spent",
            type=float,
            default=500,
            help="VIP: minimum total spent, in the shop's currency (default 500).",
        )
        parser.add_argument(
            "--vip-min-orders",
            type=int,
            default=3,
            help="VIP: minimum number of orders (default 3).",
        )
        parser.add_argument(
            "--lapsed-days",
            type=int,
            default=90,
            help="Lapsed high spenders: days without an order (default 90).",
        )
        parser.add_argument(
            "--lapsed-min-spent",
            type=float,
            default=500,
            help="Lapsed high spenders: minimum total spent (default 500).",
        )
        parser.add_argument(
            "--cart-days",
            type=int,
            default=7,
            help="Cart abandoners: how many days back a cart counts (default 7).",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Overwrite the rules of default segments that exist already.",
        )
        parser.add_argument(
            "--no-rebuild",
            action="store_true",
            help="Do not compute the members now.",
        )
        parser.add_argument(
            "--rebuild-every",
            type=int,
            default=60,
            metavar="MINUTES",
            help="Interval of the periodic rebuild task in django-celery-beat "
            "(default 60; 0 leaves the schedule alone).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("vip_min_orders", "lapsed_days", "cart_days"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        if options["rebuild_every"] < 0:
            raise CommandError("--rebuild-every must be 0 or more minutes.")
        definitions = default_segments(
            vip_min_spent=options["vip_min_spent"],
            vip_min_orders=options["vip_min_orders"],
            lapsed_days=options["lapsed_days"],
            lapsed_min_spent=options["lapsed_min_spent"],
            cart_days=options["cart_days"],
        )
        installed = []
        try:
            with transaction.atomic():
                for definition in definitions:
                    installed.append(self._install(definition, options["update"]))
        except InvalidRule as error:
            raise CommandError(
                f"A default segment has an invalid rule: {error}"
            ) from None

        if options["rebuild_every"]:
            self._schedule(options["rebuild_every"])
        if options["no_rebuild"]:
            return
        changes = rebuild_segments([segment.slug for segment in installed])
        self.stdout.write(f"{'segment':<28}{'members':>10}")
        for segment in installed:
            members = segment.memberships.filter(exited_at__isnull=True).count()
            self.stdout.write(f"{segment.slug:<28}{members:>10}")
        self.stdout.write(f"rebuilt {len(changes)} segments")

    def _install(self, definition: Any, update: bool) -> Segment:
        segment = Segment.objects.filter(slug=definition.slug).first()
        if segment is not None and not update:
            self.stdout.write(
                f"kept {definition.slug} (exists; --update overwrites it)"
            )
            return segment
        verb = "created" if segment is None else "updated"
        segment = segment or Segment(slug=definition.slug)
        segment.name = definition.name
        segment.description = definition.description
        segment.rules = definition.rules
        # The command rebuilds the members itself, after all segments exist.
        segment._rebuild_on_save = False
        segment.save()
        self.stdout.write(f"{verb} {definition.slug}")
        return segment

    def _schedule(self, minutes: int) -> None:
        if not apps.is_installed("django_celery_beat"):
            self.stderr.write(
                "django_celery_beat is not installed; schedule the task "
                "omnichannel.segments.rebuild_periodic in your celery beat yourself."
            )
            return
        from django_celery_beat.models import IntervalSchedule, PeriodicTask

        interval, _created = IntervalSchedule.objects.get_or_create(
            every=minutes, period=IntervalSchedule.MINUTES
        )
        PeriodicTask.objects.update_or_create(
            name=PERIODIC_TASK_NAME,
            defaults={
                "task": "omnichannel.segments.rebuild_periodic",
                "interval": interval,
                "enabled": True,
            },
        )
        every = timedelta(minutes=minutes)
        self.stdout.write(f"scheduled the periodic segment rebuild every {every}")
