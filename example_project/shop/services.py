"""Prices, discount codes and turning a cart into an order."""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from shop.models import Cart, Discount, Order, OrderLine, Product

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ORDER_NUMBER_ATTEMPTS = 5
# Used when the project does not set SHOP_SHIPPING_FEE or SHOP_FREE_SHIPPING_THRESHOLD.
DEFAULT_SHIPPING_FEE = Decimal("4.90")
DEFAULT_FREE_SHIPPING_THRESHOLD = Decimal("50.00")


class CheckoutError(Exception):
    """A cart cannot become an order. ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount_amount: Decimal
    shipping: Decimal
    total: Decimal


def compute_totals(subtotal: Decimal, discount: Discount | None = None) -> Totals:
    """Apply the discount and the shipping fee to a goods subtotal.

    Percent and amount codes reduce the goods, never below zero. Shipping costs
    SHOP_SHIPPING_FEE unless the goods before the discount reach
    SHOP_FREE_SHIPPING_THRESHOLD, or the code gives free shipping.
    """
    fee = getattr(settings, "SHOP_SHIPPING_FEE", DEFAULT_SHIPPING_FEE)
    threshold = getattr(
        settings, "SHOP_FREE_SHIPPING_THRESHOLD", DEFAULT_FREE_SHIPPING_THRESHOLD
    )
    subtotal = subtotal.quantize(CENT)
    discount_amount = Decimal("0.00")
    shipping = Decimal(fee).quantize(CENT)

    if subtotal == 0 or subtotal >= Decimal(threshold):
        shipping = Decimal("0.00")
    if discount is not None:
        if discount.kind == Discount.Kind.PERCENT:
            discount_amount = (subtotal * discount.value / 100).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
        elif discount.kind == Discount.Kind.AMOUNT:
            discount_amount = discount.value.quantize(CENT)
        elif discount.kind == Discount.Kind.FREE_SHIPPING:
            shipping = Decimal("0.00")
        discount_amount = min(discount_amount, subtotal)

    return Totals(
        subtotal=subtotal,
        discount_amount=discount_amount,
        shipping=shipping,
        total=subtotal - discount_amount + shipping,
    )


def find_usable_discount(
    code: str, at: datetime.datetime | None = None, *, lock: bool = False
) -> Discount:
    """Return the discount with this code (any letter case) if it can be used now.

    Raises ValidationError with code ``unknown``, ``used`` or ``expired``.
    """
    at = at or timezone.now()
    code = code.strip()
    queryset = Discount.objects.select_for_update() if lock else Discount.objects
    discount = queryset.filter(code__iexact=code).first()

    if discount is None:
        raise ValidationError(
            _(
                "The discount code “%(code)s” does not exist. Check the spelling, "
                "or leave the field empty."
            ),
            code="unknown",
            params={"code": code},
        )
    if discount.is_used:
        raise ValidationError(
            _("The discount code “%(code)s” has already been used."),
            code="used",
            params={"code": discount.code},
        )
    if discount.is_expired(at):
        raise ValidationError(
            _("The discount code “%(code)s” has expired (valid until %(date)s)."),
            code="expired",
            params={
                "code": discount.code,
                "date": formats.date_format(
                    timezone.localtime(discount.valid_until), "DATETIME_FORMAT"
                ),
            },
        )
    return discount


def place_order(
    cart: Cart,
    *,
    email: str,
    phone: str = "",
    user: AbstractBaseUser | None = None,
    discount_code: str = "",
) -> Order:
    """Create an order from an open cart in one transaction and return it.

    Takes the products' current prices, takes the items out of stock, claims a
    single-use discount code, and marks the cart converted and linked to the order.
    The order is saved twice: on creation, and last, once lines and cart link exist.
    Raises CheckoutError and writes nothing if any of that fails.
    """
    with transaction.atomic():
        cart = _lock_open_cart(cart)
        lines = list(cart.lines.select_related("product").order_by("pk"))
        if not lines:
            raise CheckoutError(_("Your cart is empty. Add a product first."))

        discount = None
        if discount_code.strip():
            try:
                discount = find_usable_discount(discount_code, lock=True)
            except ValidationError as error:
                raise CheckoutError(error.messages[0], field="discount_code") from None

        subtotal = Decimal("0.00")
        for line in lines:
            _check_sellable(line.product, line.quantity)
            line.unit_price = line.product.price
            subtotal += line.unit_price * line.quantity
        currency = lines[0].product.currency
        totals = compute_totals(subtotal, discount)

        order = _create_order(
            user=user,
            email=email.strip(),
            phone=phone.strip(),
            totals=totals,
            currency=currency,
            discount_code=discount.code if discount else "",
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=line.product,
                sku=line.product.sku,
                name=line.product.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in lines
        )
        for line in lines:
            _take_from_stock(line.product, line.quantity)
        if discount is not None and discount.single_use:
            discount.used_by_order = order
            discount.used_at = order.created_at
            discount.save(update_fields=["used_by_order", "used_at"])

        cart.status = Cart.Status.CONVERTED
        cart.order = order
        cart.email = order.email
        update_fields = ["status", "order", "email", "updated_at"]
        if user is not None and cart.user_id is None:
            cart.user = user
            update_fields.append("user")
        cart.save(update_fields=update_fields)

        # The order's first post_save came before its lines and cart link existed.
        # This last save lets receivers, such as shop adapters, read it complete.
        order.save()

    logger.info("Placed order %s from cart %s", order.number, cart.pk)
    return order


def _lock_open_cart(cart: Cart) -> Cart:
    locked = Cart.objects.select_for_update().filter(pk=cart.pk).first()
    if locked is None or locked.status != Cart.Status.OPEN:
        raise CheckoutError(
            _(
                "This cart has already been checked out. Start a new cart to order "
                "again."
            )
        )
    return locked


def _check_sellable(product: Product, quantity: int) -> None:
    if not product.is_active:
        raise CheckoutError(
            _("%(name)s is no longer sold. Remove it from your cart.")
            % {"name": product.name}
        )
    if quantity > product.stock:
        raise CheckoutError(
            _(
                "Only %(stock)s of %(name)s left in stock. Lower the quantity in "
                "your cart."
            )
            % {"stock": product.stock, "name": product.name}
        )


def _take_from_stock(product: Product, quantity: int) -> None:
    # The conditional update keeps stock from going negative when two checkouts
    # buy the last items at once.
    updated = Product.objects.filter(pk=product.pk, stock__gte=quantity).update(
        stock=F("stock") - quantity
    )
    if updated == 0:
        raise CheckoutError(
            _("%(name)s sold out while you were checking out.") % {"name": product.name}
        )


def _create_order(
    *,
    user: AbstractBaseUser | None,
    email: str,
    phone: str,
    totals: Totals,
    currency: str,
    discount_code: str,
) -> Order:
    created_at = timezone.now()
    for _attempt in range(ORDER_NUMBER_ATTEMPTS):
        number = new_order_number(created_at)
        try:
            with transaction.atomic():
                return Order.objects.create(
                    number=number,
                    user=user,
                    email=email,
                    phone=phone,
                    subtotal=totals.subtotal,
                    discount_amount=totals.discount_amount,
                    shipping=totals.shipping,
                    total=totals.total,
                    currency=currency,
                    discount_code=discount_code,
                    created_at=created_at,
                )
        except IntegrityError:
            if not Order.objects.filter(number=number).exists():
                raise
            logger.warning("Order number %s is taken, drawing another", number)
    raise CheckoutError(_("No free order number was found. Please try again."))


def new_order_number(at: datetime.datetime) -> str:
    """Return a number such as ``20261204-7F3A9C``: local date and 24 random bits."""
    return f"{timezone.localtime(at):%Y%m%d}-{secrets.token_hex(3).upper()}"
