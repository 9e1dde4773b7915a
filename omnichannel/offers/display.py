"""Plain functions behind the offer template tags, for pages the shop renders."""

from __future__ import annotations

from typing import Any

from omnichannel.offers.models import CustomerOffer
from omnichannel.offers.services import mark_seen
from omnichannel.offers.status import OfferStatus, offer_status, popup_offer
from omnichannel.profiles.services import profile_for_request

State = CustomerOffer.State


def customer_of(request: Any = None, profile: Any = None) -> Any:
    """Return ``profile``, or the profile behind the request's user or visitor cookie.

    An anonymous visitor the app has never seen has no profile: None.
    """
    if profile is not None:
        return profile
    if request is None:
        return None
    return profile_for_request(request)


def offer_for_customer(
    slug: str, *, request: Any = None, profile: Any = None
) -> OfferStatus | None:
    """Return the customer's code and state for the offer ``slug``, or None."""
    return offer_status(customer_of(request, profile), slug)


def offer_code_context(
    slug: str, *, request: Any = None, profile: Any = None, seen: bool = True
) -> dict[str, Any]:
    """Return what the ``offer_code`` block renders; record the code as seen.

    With ``seen`` true, showing an open code marks the customer's offer seen.
    """
    status = offer_for_customer(slug, request=request, profile=profile)
    if status is not None and status.state == State.ISSUED and seen:
        _mark_seen(status, channel="web")
    return {"offer": status, "slug": slug}


def offer_popup_context(
    slug: str, *, request: Any = None, profile: Any = None
) -> dict[str, Any]:
    """Return what the on-site pop-up renders: an open offer, or none at all."""
    status = popup_offer(customer_of(request, profile), slug)
    if status is not None and status.state == State.ISSUED:
        _mark_seen(status, channel="onsite")
    return {"offer": status, "slug": slug}


def _mark_seen(status: OfferStatus, *, channel: str) -> None:
    customer_offer = CustomerOffer.objects.select_related("offer").get(
        pk=status.customer_offer_id
    )
    mark_seen(customer_offer, channel=channel)
