"""How the omnichannel app reads this shop's orders and carts.

Named in settings.OMNICHANNEL["SHOP_ADAPTERS"]. The adapters read, and the app
records events from what they return; the order adapter also creates the shop's
discount codes for the app's offers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from omnichannel.exceptions import DiscountCodeTaken, InvalidDiscountCode
from omnichannel.integrations.base import CartAdapter as BaseCartAdapter
from omnichannel.integrations.base import Customer
from omnichannel.integrations.base import OrderAdapter as BaseOrderAdapter
from shop.models import Discount


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
        """Write a shop.Discount row; the shop's checkout accepts it from then on.

        The shop's Discount has no owner, so ``profile`` is not stored. The
        checkout checks with the omnichannel app whose code it is (see shop.offers).
        """
        if kind not in Discount.Kind.values:
            raise InvalidDiscountCode(
                "kind",
                f"{kind!r} is not a kind of this shop's discounts; use one of "
                f"{', '.join(Discount.Kind.values)}.",
            )
        try:
            amount = Decimal("0") if kind == "free_shipping" else Decimal(value)
        except (InvalidOperation, TypeError):
            raise InvalidDiscountCode("value", f"{value!r} is not a number.") from None
        discount = Discount(
            code=code,
            kind=kind,
            value=amount,
            single_use=single_use,
            valid_until=valid_until,
        )
        try:
            # The database enforces the constraints; checking them here would cost
            # one query each for every code of a campaign.
            discount.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise InvalidDiscountCode(field, " ".join(messages)) from None
        if Discount.objects.filter(code__iexact=code).exists():
            raise DiscountCodeTaken("code", f"the shop has a discount {code!r}.")
        try:
            with transaction.atomic():
                discount.save()
        except IntegrityError:
            raise DiscountCodeTaken(
                "code", f"the shop has a discount {code!r}."
            ) from None
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
