"""Optional calls into the omnichannel public API.

Orders, carts and logins reach the omnichannel app through the shop adapters named in
settings.OMNICHANNEL["SHOP_ADAPTERS"]. What no model records, such as a product page
view, is sent here with ``omnichannel.track()`` when the app is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def _public_track() -> Callable[..., Any] | None:
    if not apps.is_installed("omnichannel"):
        return None
    import omnichannel

    return getattr(omnichannel, "track", None)


def track(
    request: HttpRequest,
    event: str,
    properties: dict[str, Any],
    *,
    object_type: str = "",
    object_id: str = "",
) -> None:
    """Record a shop event for the current visitor, if the omnichannel app is there.

    A failure is logged and swallowed, because tracking must never break a page.
    """
    public_track = _public_track()
    if public_track is None:
        return
    try:
        public_track(
            event,
            request=request,
            properties=properties,
            source="shop",
            object_type=object_type,
            object_id=object_id,
        )
    except Exception:
        logger.exception("Tracking the shop event %s failed", event)


def track_product_view(request: HttpRequest, product: Any) -> None:
    track(
        request,
        "product_viewed",
        {
            "sku": product.sku,
            "name": product.name,
            "price": str(product.price),
            "currency": product.currency,
            "category": product.category.slug,
            "url": request.build_absolute_uri(product.get_absolute_url()),
        },
        object_type="product",
        object_id=product.sku,
    )
