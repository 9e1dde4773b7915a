"""The offers that the built-in journey recipes use, and how they are installed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

CART_FREE_SHIPPING = "cart-free-shipping"
VIP_EARLY_ACCESS = "vip-early-access"

#: Slug -> field values of each offer, as first installed.
RECIPE_OFFERS: dict[str, dict[str, Any]] = {
    CART_FREE_SHIPPING: {
        "name": _("Free shipping on your cart"),
        "description": _(
            "Complete your order within 7 days and we ship it free of charge."
        ),
        "kind": "free_shipping",
        "value": Decimal("0.00"),
        "code_valid_for": timedelta(days=7),
        "code_prefix": "SHIP",
    },
    VIP_EARLY_ACCESS: {
        "name": _("VIP early access"),
        "description": _(
            "Shop the new collection before everyone else, with 15% off for 14 days."
        ),
        "kind": "percent",
        "value": Decimal("15.00"),
        "code_valid_for": timedelta(days=14),
        "code_prefix": "VIP",
    },
}


def install_offers(
    *, vip_segments: list[Any] | None = None, only: Iterable[str] | None = None
) -> dict[str, bool]:
    """Create the recipe offers that do not exist; return slug -> created.

    An offer that exists is left as the promotions manager edited it.
    ``vip_segments`` become the audience of a newly created VIP offer; ``only``
    limits the install to these slugs.
    """
    from omnichannel.offers.models import Offer

    selected = set(RECIPE_OFFERS) if only is None else set(only) & set(RECIPE_OFFERS)
    created = {}
    for slug, values in RECIPE_OFFERS.items():
        if slug not in selected:
            continue
        offer, was_created = Offer.objects.get_or_create(slug=slug, defaults=values)
        if was_created and slug == VIP_EARLY_ACCESS and vip_segments:
            offer.segments.set(vip_segments)
        created[slug] = was_created
    return created
