from typing import Any

from omnichannel.exceptions import DiscountCodeTaken
from omnichannel.integrations.base import CartAdapter, Customer, OrderAdapter
from omnichannel.integrations.contract import clean_discount_code_request

from .models import Cart, DiscountCode, Order


class HandmadeOrderAdapter(OrderAdapter):
    def get_order_id(self, order: Order) -> str:
        return order.number

    def get_customer(self, order: Order) -> Customer:
        return Customer(user=order.user, email=order.email, phone=order.phone)

    def get_cart_id(self, order: Order) -> str:
        return str(order.cart_id) if order.cart_id else ""

    def is_placed(self, order: Order) -> bool:
        # The checkout writes the order row before its lines; it counts once the
        # checkout marks it placed at the end of the same transaction.
        return order.status != Order.Status.PENDING

    def create_discount_code(
        self, *, code, kind, value, valid_until, single_use, profile: Any
    ) -> str:
        request = clean_discount_code_request(
            code=code,
            kind=kind,
            value=value,
            valid_until=valid_until,
            single_use=single_use,
        )
        if DiscountCode.objects.filter(code__iexact=request.code).exists():
            raise DiscountCodeTaken("code", f"{request.code!r} exists already.")
        DiscountCode.objects.create(
            code=request.code,
            kind=request.kind,
            value=request.value,
            valid_until=request.valid_until,
            single_use=request.single_use,
            issued_to=str(profile.uuid) if profile is not None else "",
        )
        return request.code


class HandmadeCartAdapter(CartAdapter):
    watch = {"handmade.CartLine": "cart"}

    def get_customer(self, cart: Cart) -> Customer:
        return Customer(user=cart.user, email=cart.email)

    def is_converted(self, cart: Cart) -> bool:
        return cart.status == Cart.Status.ORDERED

    def is_open(self, cart: Cart) -> bool:
        return cart.status == Cart.Status.OPEN

    def get_order_id(self, cart: Cart) -> str:
        order = cart.orders.first()
        return order.number if order is not None else ""
