"""Template context shared by every shop page."""

from typing import Any

from django.http import HttpRequest

from shop.cart import get_cart
from shop.models import Category


def shop(request: HttpRequest) -> dict[str, Any]:
    """Add the nav's top-level categories and the item count of the open cart."""

    def cart_item_count() -> int:
        cart = get_cart(request) if hasattr(request, "session") else None
        return cart.item_count if cart is not None else 0

    return {
        "nav_categories": Category.objects.filter(parent__isnull=True),
        # A callable, so that pages that do not show the count run no query for it.
        "cart_item_count": cart_item_count,
    }
