from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnichannel.offers.install import install_offers
from omnichannel.offers.shop import code_adapter


class Command(BaseCommand):
    help = (
        "Create the offers the journey recipes use (cart-free-shipping, "
        "vip-early-access). Offers that exist are left unchanged, so running it "
        "again is safe."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--vip-segment",
            action="append",
            default=[],
            metavar="SLUG",
            help="Segment whose members may get the VIP code (repeatable). Without "
            "it, the VIP offer has no audience limit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from omnichannel.segments.models import Segment

        slugs = options["vip_segment"]
        segments = list(Segment.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {segment.slug for segment in segments})
        if missing:
            raise CommandError(
                f"No segment has the slug {', '.join(missing)}. Create it first, or "
                "leave out --vip-segment."
            )
        for slug, created in install_offers(vip_segments=segments).items():
            state = "created" if created else "exists, left unchanged"
            self.stdout.write(f"{slug}: {state}")
        if code_adapter() is None:
            self.stderr.write(
                "Warning: no adapter in OMNICHANNEL['SHOP_ADAPTERS'] creates discount "
                "codes, so these offers cannot issue codes yet. Override "
                "create_discount_code() in the shop's order adapter."
            )
