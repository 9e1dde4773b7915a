"""Adapters through which the omnichannel app reads this shop's orders and carts.

Named in settings.OMNICHANNEL["SHOP_ADAPTERS"]. The adapters only read, except that
the order adapter writes the discount codes journeys and chat hand out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Upper

from omnichannel.exceptions import DiscountCodeTaken
from omnichannel.integrations.base import CartAdapter as BaseCartAdapter
from omnichannel.integrations.base import Customer
from omnichannel.integrations.base import OrderAdapter as BaseOrderAdapter
from omnichannel.integrations.contract import clean_discount_code_request


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
        """Create a shop.Discount; the checkout accepts it in any letter case."""
        from shop.models import Discount

        request = clean_discount_code_request(
            code=code,
            kind=kind,
            value=value,
            valid_until=valid_until,
            single_use=single_use,
        )
        if Discount.objects.filter(code__iexact=request.code).exists():
            raise DiscountCodeTaken("code", f"{request.code!r} exists already.")
        try:
            with transaction.atomic():
                Discount.objects.create(
                    code=request.code,
                    kind=request.kind,
                    value=request.value,
                    valid_until=request.valid_until,
                    single_use=request.single_use,
                )
        except IntegrityError as error:
            raise DiscountCodeTaken(
                "code", f"{request.code!r} was created at the same time."
            ) from error
        return request.code

    def create_discount_codes(
        self,
        codes: Sequence[str],
        *,
        kind: str,
        value: Decimal,
        valid_until: datetime | None,
        single_use: bool,
        profiles: Sequence[Any],
    ) -> list[str]:
        """Create many shop.Discount rows with one lookup and one INSERT."""
        from shop.models import Discount

        if len(codes) != len(profiles):
            raise ValueError(
                f"profiles must have one entry per code: got {len(codes)} codes "
                f"and {len(profiles)} profiles."
            )
        requests = [
            clean_discount_code_request(
                code=code,
                kind=kind,
                value=value,
                valid_until=valid_until,
                single_use=single_use,
            )
            for code in codes
        ]
        upper_codes = [request.code.upper() for request in requests]
        if len(set(upper_codes)) != len(upper_codes):
            raise DiscountCodeTaken("code", "the codes repeat in another letter case.")
        existing_code = (
            Discount.objects.annotate(upper_code=Upper("code"))
            .filter(upper_code__in=upper_codes)
            .values_list("code", flat=True)
            .first()
        )
        if existing_code is not None:
            raise DiscountCodeTaken("code", f"{existing_code!r} exists already.")
        try:
            with transaction.atomic():
                Discount.objects.bulk_create(
                    Discount(
                        code=request.code,
                        kind=request.kind,
                        value=request.value,
                        valid_until=request.valid_until,
                        single_use=request.single_use,
                    )
                    for request in requests
                )
        except IntegrityError as error:
            raise DiscountCodeTaken(
                "code", "one of the codes was created at the same time."
            ) from error
        return [request.code for request in requests]


class CartAdapter(BaseCartAdapter):
    watch = {"shop.CartLine": "cart"}

    def get_customer(self, cart: Any) -> Customer:
        user = cart.user if cart.user_id else None
        return Customer(user=user, email=cart.email)

    def is_converted(self, cart: Any) -> bool:
        return cart.status == "converted"

    def get_order_id(self, cart: Any) -> str:
        return cart.order.number if cart.order_id else ""
