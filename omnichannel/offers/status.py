"""Readers of a customer's offers, the code and its state, for every surface.

Template tags, journey branches, the agent console, the on-site pop-up and the API
for the mobile app all call these functions, so they show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from omnichannel.offers.models import CustomerOffer, Offer

State = CustomerOffer.State
OPEN_STATES = (State.ISSUED, State.SEEN)


@dataclass(frozen=True)
class OfferStatus:
    """One customer's offer as the surfaces show it."""

    slug: str
    name: str
    description: str
    kind: str
    value: Decimal
    currency: str
    gift: str
    code: str
    state: str
    issued_at: datetime
    valid_until: datetime | None
    seen_at: datetime | None
    claimed_at: datetime | None
    order_id: str
    claim_channel: str
    customer_offer_id: int

    @property
    def is_open(self) -> bool:
        """True while the code can still be used."""
        return self.state in OPEN_STATES

    @property
    def is_claimed(self) -> bool:
        return self.state == State.CLAIMED

    @property
    def is_expired(self) -> bool:
        return self.state == State.EXPIRED

    def as_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready values, for APIs and message contexts."""
        return {
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "value": str(self.value),
            "currency": self.currency,
            "gift": self.gift,
            "code": self.code,
            "state": self.state,
            "issued_at": self.issued_at.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "seen_at": self.seen_at.isoformat() if self.seen_at else None,
            "claimed_at": self.claimed_at.isoformat() if self.claimed_at else None,
            "order_id": self.order_id,
            "claim_channel": self.claim_channel,
        }


def build_status(
    customer_offer: CustomerOffer, at: datetime | None = None
) -> OfferStatus:
    """Return the status of one row, with its state as of ``at`` (default now)."""
    from omnichannel.conf import app_settings
    from omnichannel.offers.services import primary_code

    offer = customer_offer.offer
    currency = offer.currency
    if offer.kind == Offer.Kind.AMOUNT and not currency:
        currency = app_settings.DEFAULT_CURRENCY
    return OfferStatus(
        slug=offer.slug,
        name=offer.name,
        description=offer.description,
        kind=offer.kind,
        value=offer.value,
        currency=currency,
        gift=offer.gift,
        code=primary_code(customer_offer),
        state=customer_offer.state_at(at),
        issued_at=customer_offer.issued_at,
        valid_until=customer_offer.valid_until,
        seen_at=customer_offer.seen_at,
        claimed_at=customer_offer.claimed_at,
        order_id=customer_offer.order_id,
        claim_channel=customer_offer.claim_channel,
        customer_offer_id=customer_offer.pk,
    )


def _customer_offers(profile: Any) -> Any:
    from omnichannel.offers.services import primary_code_subquery

    return (
        CustomerOffer.objects.filter(profile=profile)
        .select_related("offer")
        .annotate(primary_code=primary_code_subquery())
    )


def offer_status(
    profile: Any, slug: str, *, at: datetime | None = None
) -> OfferStatus | None:
    """Return the customer's status for the offer ``slug``, or None if not issued."""
    if profile is None or profile.pk is None:
        return None
    customer_offer = _customer_offers(profile).filter(offer__slug=slug).first()
    if customer_offer is None:
        return None
    return build_status(customer_offer, at)


def offer_statuses(
    profile: Any, *, at: datetime | None = None, open_only: bool = False
) -> list[OfferStatus]:
    """Return all the customer's offers, newest first, for the console and the API."""
    if profile is None or profile.pk is None:
        return []
    at = at or timezone.now()
    statuses = [build_status(row, at) for row in _customer_offers(profile)]
    if open_only:
        statuses = [status for status in statuses if status.is_open]
    return statuses


def popup_offer(
    profile: Any, slug: str, *, at: datetime | None = None
) -> OfferStatus | None:
    """Return the offer for an on-site pop-up, or None when it must not be shown.

    A pop-up never offers a code that was used or that expired.
    """
    status = offer_status(profile, slug, at=at)
    if status is None or not status.is_open:
        return None
    return status


def reached_state(
    profile: Any, slug: str, state: str, *, at: datetime | None = None
) -> bool:
    """Tell whether the customer's offer ``slug`` had reached ``state`` by ``at``.

    ``issued`` is true once a code was issued, ``seen`` once it was seen or claimed,
    ``claimed`` once an order used it, and ``expired`` while it is expired and
    unused. Journey branches use these meanings.
    """
    at = at or timezone.now()
    if profile is None or profile.pk is None:
        return False
    customer_offer = (
        CustomerOffer.objects.filter(profile=profile, offer__slug=slug)
        .select_related("offer")
        .first()
    )
    if customer_offer is None or customer_offer.issued_at > at:
        return False
    claimed = customer_offer.claimed_at is not None and customer_offer.claimed_at <= at
    if state == State.ISSUED:
        return True
    if state == State.SEEN:
        seen = customer_offer.seen_at is not None and customer_offer.seen_at <= at
        return seen or claimed
    if state == State.CLAIMED:
        return claimed
    if state == State.EXPIRED:
        return not claimed and customer_offer.state_at(at) == State.EXPIRED
    raise ValueError(f"Offer state {state!r} is not one of {', '.join(State.values)}.")
