from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnichannel.exceptions import OfferError


class Command(BaseCommand):
    help = (
        "Issue personal codes of an offer to every current member of segments, as "
        "a campaign does. Customers who hold a code keep it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("offer", help="Slug of the offer.")
        parser.add_argument(
            "--segment",
            action="append",
            default=[],
            metavar="SLUG",
            help="Segment to issue to (repeatable); default: the offer's audience.",
        )
        parser.add_argument(
            "--source",
            default="campaign",
            help="What issued the codes, stored on each (default: campaign).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from omnichannel.offers.models import Offer
        from omnichannel.offers.services import issue_codes
        from omnichannel.segments.models import Segment, SegmentMembership

        offer = Offer.objects.filter(slug=options["offer"]).first()
        if offer is None:
            raise CommandError(f"No offer has the slug {options['offer']!r}.")
        if options["segment"]:
            segments = list(Segment.objects.filter(slug__in=options["segment"]))
            missing = sorted(
                set(options["segment"]) - {segment.slug for segment in segments}
            )
            if missing:
                raise CommandError(f"No segment has the slug {', '.join(missing)}.")
        else:
            segments = list(offer.segments.all())
            if not segments:
                raise CommandError(
                    f"Offer {offer.slug!r} has no audience segment; name one with "
                    "--segment."
                )
        members = list(
            SegmentMembership.objects.filter(
                segment__in=segments, exited_at__isnull=True
            )
            .values_list("profile_id", flat=True)
            .distinct()
            .order_by("profile_id")
        )
        try:
            result = issue_codes(offer, members, source=options["source"])
        except OfferError as error:
            raise CommandError(error.message) from None
        rejected = ", ".join(f"{n} {reason}" for reason, n in result.rejected.items())
        self.stdout.write(
            f"{offer.slug}: {len(result.created)} codes issued, {result.existing} "
            f"customers had one, rejected: {rejected or 'none'}"
        )
