"""Handlers for django-oscar's own signals, connected through the order adapter.

The registry connects what ``order_receivers`` returns when ``order.Order`` has the
Oscar order adapter, and wraps each handler so that an error follows
``SHOP_ADAPTER_ERRORS`` instead of failing Oscar's view.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.signals import post_save, pre_save
from oscar.apps.catalogue.signals import product_viewed
from oscar.apps.customer.signals import user_registered
from oscar.apps.order.signals import order_placed
from oscar.core.loading import get_model

from omnichannel.api import identify, profile_for_request, track
from omnichannel.exceptions import InvalidIdentifier
from omnichannel.integrations import registry
from omnichannel.integrations.base import Receiver
from omnichannel.integrations.oscar import stock
from omnichannel.integrations.oscar.adapters import product_category
from omnichannel.middleware import is_bot

logger = logging.getLogger(__name__)


def order_receivers(adapter: Any) -> list[Receiver]:
    """Return the handlers the Oscar order adapter connects."""

    def on_order_line_created(
        sender: Any,
        instance: Any,
        created: bool = False,
        raw: bool = False,
        **kwargs: Any,
    ) -> None:
        if raw or not created:
            return
        order = instance.order
        if not order.basket_id:
            return
        # OrderCreator writes one order line per basket line; once they are all
        # written the order is complete, and still inside Oscar's transaction.
        if order.lines.count() < order.basket.lines.count():
            return
        registry.record_instance(adapter, order)

    def on_order_placed(sender: Any, order: Any, **kwargs: Any) -> None:
        registry.record_instance(adapter, order)

    return [
        Receiver(post_save, on_order_line_created, get_model("order", "Line")),
        Receiver(order_placed, on_order_placed),
        Receiver(user_registered, record_sign_up),
        Receiver(product_viewed, record_product_view),
        Receiver(
            pre_save, stock.remember_stock_level, get_model("partner", "StockRecord")
        ),
        Receiver(
            post_save, stock.record_back_in_stock, get_model("partner", "StockRecord")
        ),
    ]


def record_sign_up(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Record ``signed_up`` for a customer who registered through Oscar's views."""
    email = getattr(user, "email", "") or None
    try:
        profile = identify(request, user=user, email=email, source="oscar")
    except InvalidIdentifier:
        logger.warning("user %s signed up with an unusable email", user.pk)
        profile = identify(request, user=user, source="oscar")
    track(
        "signed_up",
        profile=profile,
        source="oscar",
        object_type="user",
        object_id=user.pk,
        idempotency_key=f"signed_up:user:{user.pk}",
    )


def record_product_view(
    sender: Any, product: Any, user: Any, request: Any, **kwargs: Any
) -> None:
    """Record ``product_viewed`` for the visitor or customer behind the request."""
    if request is None or is_bot(request):
        return
    profile = profile_for_request(request, create=True)
    if profile is None:
        # Neither a signed-in user nor a visitor cookie: the OmnichannelMiddleware
        # is missing, which the system check omnichannel.W090 reports.
        return
    track(
        "product_viewed",
        profile=profile,
        source="oscar",
        object_type="product",
        object_id=product.pk,
        properties=product_properties(product, request),
    )


def product_properties(product: Any, request: Any = None) -> dict[str, Any]:
    """Return what segments and messages use of an Oscar product."""
    properties: dict[str, Any] = {
        "product_id": product.pk,
        "upc": product.upc or "",
        "title": product.get_title(),
        "category": product_category(product),
        "url": product.get_absolute_url(),
    }
    strategy = getattr(request, "strategy", None)
    if strategy is not None:
        if product.is_parent:
            price = strategy.fetch_for_parent(product).price
        else:
            price = strategy.fetch_for_product(product).price
        if price.exists:
            amount = price.incl_tax if price.is_tax_known else price.excl_tax
            properties["price"] = str(amount)
            properties["currency"] = price.currency
    return properties
