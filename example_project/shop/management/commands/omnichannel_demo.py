"""Run the main job of the demo on the CDNOW purchase history.

Seeds the catalog and a staff user, imports the history, gives every tenth customer
a sample email address and consent, scores RFM, installs the default segments, the
journey recipes and the shop's personalisation, replays the journeys up to the last
date in the data, and prints what each journey sent and why the rest was not sent.
Running it again changes no count.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, required=True, help="CDNOW file.")
        parser.add_argument("--staff-user", default="admin")
        parser.add_argument("--staff-password", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        data: Path = options["data"]
        if not data.is_file():
            raise CommandError(f"{data} does not exist; run from example_project/.")
        commands = get_commands()

        self._step("Seeding the catalog and the staff user")
        call_command(
            "seed_shop",
            staff_username=options["staff_user"],
            staff_password=options["staff_password"],
            stdout=self.stdout,
        )

        self._step(f"Importing {data}")
        call_command(
            "omnichannel_import_orders",
            str(data),
            file_format="cdnow",
            currency="USD",
            stdout=self.stdout,
            stderr=self.stderr,
        )

        self._step("Giving every tenth customer a sample email address and consent")
        from shop.demo_replay import seed_sample_contacts

        seeded = seed_sample_contacts()
        self.stdout.write(f"{seeded} customers got a sample contact in this run.")

        self._step("Scoring RFM")
        call_command("omnichannel_score_rfm", stdout=self.stdout)

        for name in (
            "omnichannel_install_segments",
            "omnichannel_install_recipes",
            "seed_personalisation",
        ):
            if name in commands:
                self._step(name.replace("omnichannel_", "").replace("_", " ").title())
                call_command(name, stdout=self.stdout)

        last = self._last_order_date()
        if last is not None:
            from shop.demo_replay import replay

            clock = last.astimezone(UTC).replace(hour=23, minute=59, second=0)
            self._step(f"Replaying the journeys up to {clock:%Y-%m-%d %H:%M} UTC")
            replay(clock, self.stdout)

        self._step("Summary")
        call_command("omnichannel_summary", stdout=self.stdout)

    def _step(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {text}"))

    def _last_order_date(self) -> Any:
        from omnichannel.profiles.models import Event

        return Event.objects.filter(name="order_placed").aggregate(
            last=Max("occurred_at")
        )["last"]
