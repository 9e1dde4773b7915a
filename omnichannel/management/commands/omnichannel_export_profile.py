from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder

from omnichannel.consent.gdpr import export_profile
from omnichannel.management.commands._profile_lookup import (
    add_lookup_arguments,
    profile_from_options,
)


class Command(BaseCommand):
    help = "Export everything held on one customer as JSON (a data-subject request)."

    def add_arguments(self, parser: Any) -> None:
        add_lookup_arguments(parser)
        parser.add_argument(
            "--output", type=Path, help="Write to this file instead of standard output."
        )
        parser.add_argument(
            "--requested-by", default="", help="Who asked, for the request record."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        profile = profile_from_options(options)
        data = export_profile(
            profile, requested_by=options["requested_by"] or "command", via="command"
        )
        text = json.dumps(data, indent=2, cls=DjangoJSONEncoder)
        if options["output"]:
            options["output"].write_text(text)
            self.stderr.write(f"wrote the export of profile {profile.uuid}")
        else:
            self.stdout.write(text)
