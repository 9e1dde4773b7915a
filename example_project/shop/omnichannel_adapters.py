"""How the omnichannel app reads this shop's orders and carts.

Named in settings.OMNICHANNEL["SHOP_ADAPTERS"]. The adapters only read; the app
records events from what they return.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from omnichannel import exceptions
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

    def create_discount_code(
        self,
        *,
        code: str,
        kind: str,
        value: Decimal,
        valid_until: datetime | None,
        single_use: bool,
        profile: Any,
    ) -> str:
        """Write the code to the shop's Discount table; return it.

        Raises ValueError when the shop rejects the terms, and the app's
        DiscountCodeTaken (a ValueError) when the code exists in any letter case.
        """
        from shop.models import Discount

        if Discount.objects.filter(code__iexact=code).exists():
            taken = getattr(exceptions, "DiscountCodeTaken", None)
            if taken is not None:
                raise taken("code", f"{code!r} exists already.")
            raise ValueError(f"The discount code {code!r} exists already.")
        discount = Discount(
            code=code,
            kind=kind,
            value=Decimal("0") if kind == Discount.Kind.FREE_SHIPPING else value,
            valid_until=valid_until,
            single_use=single_use,
        )
        try:
            discount.full_clean()
        except ValidationError as error:
            raise ValueError("; ".join(error.messages)) from None
        discount.save()
        return discount.code


class CartAdapter(BaseCartAdapter):
    watch = {"shop.CartLine": "cart"}

    def get_customer(self, cart: Any) -> Customer:
        user = cart.user if cart.user_id else None
        return Customer(user=user, email=cart.email)

    def is_converted(self, cart: Any) -> bool:
        return cart.status == "converted"

    def get_order_id(self, cart: Any) -> str:
        return cart.order.number if cart.order_id else ""
