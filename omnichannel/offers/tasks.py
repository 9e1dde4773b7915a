"""Celery tasks of offers."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="omnichannel.offers.issue_to_audience", acks_late=True)
def issue_to_audience(offer_id: int, source: str = "") -> int:
    """Issue codes of an offer to the current members of its audience segments."""
    from omnichannel.offers.models import Offer
    from omnichannel.offers.services import issue_codes
    from omnichannel.segments.models import SegmentMembership

    offer = Offer.objects.filter(pk=offer_id).first()
    if offer is None:
        logger.warning("offer %s no longer exists; no codes issued", offer_id)
        return 0
    members = (
        SegmentMembership.objects.filter(
            segment__in=offer.segments.all(), exited_at__isnull=True
        )
        .values_list("profile_id", flat=True)
        .distinct()
        .order_by("profile_id")
    )
    return len(issue_codes(offer, list(members), source=source).created)


@shared_task(name="omnichannel.offers.expire")
def expire() -> int:
    """Store the expired state of open offers whose codes ended; run it hourly."""
    from omnichannel.offers.services import expire_due

    return expire_due()
