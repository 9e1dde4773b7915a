"""The shop's on-site personalisation, created through the omnichannel public API.

A parka banner on the homepage for visitors who browsed winter jackets in the last
week, a "VIP offers" navigation item for the RFM Champions, and a free-shipping
pop-up for returning cart abandoners. The segments ``rfm-champions`` and
``cart-abandoners`` must exist (``manage.py omnichannel_install_segments``).
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command

WINTER_JACKET_CATEGORIES = ["winter-jackets", "parkas", "puffer-jackets"]

BROWSED_WINTER_JACKETS = {
    "type": "event",
    "event": "category_viewed",
    "where": [{"property": "category", "op": "in", "value": WINTER_JACKET_CATEGORIES}],
    "within": {"value": 7, "unit": "days"},
}


def install_personalisation() -> dict[str, Any]:
    """Create or update the shop's placements, banners and pop-up; return them."""
    from omnichannel.api import save_banner, save_placement, save_popup

    save_placement(
        "home-hero",
        "Homepage hero",
        description="The large banner at the top of the homepage.",
    )
    save_placement(
        "nav", "Navigation item", description="An extra link in the main menu."
    )
    parkas = save_banner(
        "home-hero",
        "Parkas for winter-jacket browsers",
        title="Parkas for the coldest days",
        body="Down-filled, windproof and ready for the northern winter.",
        link_url="/categories/parkas/",
        link_text="Shop parkas",
        rules=BROWSED_WINTER_JACKETS,
        priority=10,
    )
    vip = save_banner(
        "nav",
        "VIP offers for Champions",
        title="VIP offers",
        link_url="/vip/",
        link_text="VIP offers",
        rules={"type": "segment", "segment": "rfm-champions"},
    )
    # The pop-up shows the recipes' free-shipping offer; install it if missing.
    call_command("omnichannel_install_offers", verbosity=0)
    popup = save_popup(
        "cart-free-shipping",
        "Free shipping for returning cart abandoners",
        "Your cart ships free",
        body="Finish your order today and we cover the shipping.",
        trigger="return",
        rules={"type": "segment", "segment": "cart-abandoners"},
        offer_slug="cart-free-shipping",
        collect_email=True,
        consent_text="Email me offers and news from Nordlicht Outfitters.",
        consent_version="shop-popup-1",
        preference_key="interest",
        preference_label="What are you shopping for?",
        preference_choices=["Jackets", "Knitwear", "Accessories"],
        button_text="Send me offers",
        max_per_visitor=3,
    )
    return {"parkas": parkas, "vip": vip, "popup": popup}
