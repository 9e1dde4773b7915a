"""How the omnichannel app reads this shop's orders and carts.

Named in settings.OMNICHANNEL["SHOP_ADAPTERS"]. The adapters only read; the app
records events from what they return.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from omnichannel.integrations.base import CartAdapter as BaseCartAdapter
from omnichannel.integrations.base import Customer
from omnichannel.integrations.base import OrderAdapter as BaseOrderAdapter


class OrderAdapter(BaseOrderAdapter):
    def get_order_id(self, order: Any) -> str:
        return order.number

    def get_customer(self, order: Any) -> Customer:
        user = order.user if order.user_id else None
        return Customer(
            user=user,
            email=order.email,
            phone=order.phone,
            first_name=getattr(user, "first_name", "") if user else "",
            last_name=getattr(user, "last_name", "") if user else "",
        )

    def is_placed(self, order: Any) -> bool:
        # Checkout saves the order once before its lines exist.
        return order.lines.exists()

    def get_cart_id(self, order: Any) -> str:
        cart = getattr(order, "source_cart", None)
        return str(cart.pk) if cart is not None else ""

    def get_total(self, order: Any) -> Decimal:
        return Decimal(order.total)


class CartAdapter(BaseCartAdapter):
    watch = {"shop.CartLine": "cart"}

    def get_customer(self, cart: Any) -> Customer:
        user = cart.user if cart.user_id else None
        return Customer(user=user, email=cart.email)

    def is_converted(self, cart: Any) -> bool:
        return cart.status == "converted"

    def get_order_id(self, cart: Any) -> str:
        return cart.order.number if cart.order_id else ""
