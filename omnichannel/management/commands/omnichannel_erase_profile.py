from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from omnichannel.consent.gdpr import erase_profile
from omnichannel.management.commands._profile_lookup import (
    add_lookup_arguments,
    profile_from_options,
)


class Command(BaseCommand):
    help = (
        "Erase the personal data of one customer (a data-subject request). "
        "Consent records keep their proof with the address replaced by a digest."
    )

    def add_arguments(self, parser: Any) -> None:
        add_lookup_arguments(parser)
        parser.add_argument(
            "--yes", action="store_true", help="Erase without asking for confirmation."
        )
        parser.add_argument(
            "--requested-by", default="", help="Who asked, for the request record."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        profile = profile_from_options(options)
        if profile.erased_at is not None:
            self.stdout.write(
                f"profile {profile.uuid} was erased at {profile.erased_at}"
            )
            return
        if not options["yes"]:
            try:
                answer = input(f"Erase profile {profile.uuid}? Type 'yes': ")
            except EOFError:
                raise CommandError(
                    "No answer; add --yes to erase without a prompt."
                ) from None
            if answer.strip().lower() != "yes":
                raise CommandError("Nothing was erased.")
        erase_profile(
            profile, requested_by=options["requested_by"] or "command", via="command"
        )
        self.stdout.write(f"erased profile {profile.uuid}")
