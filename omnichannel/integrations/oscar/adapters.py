"""Read django-oscar's Order and Basket models.

Oscar's ``OrderCreator`` saves the Order row before its lines, so the ``post_save``
of the Order sees an order without lines. The order adapter therefore records a new
order when its last line is written, still inside ``OrderCreator``'s transaction, and
again on Oscar's ``order_placed`` signal for orders placed without a basket. The
idempotency key makes the second call a no-op.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Max, Sum
from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.integrations import base

try:
    from oscar.core.loading import get_model
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImproperlyConfigured(
        "The django-oscar adapters need django-oscar: pip install "
        "'django-omnichannel[oscar]' and add Oscar's apps to INSTALLED_APPS."
    ) from error


CENT = Decimal("0.01")


class OrderAdapter(base.OrderAdapter):
    """Reads Oscar's ``order.Order``.

    Paid, cancelled and refunded follow ``OMNICHANNEL["OSCAR_ORDER_STATUSES"]``; an
    order also counts as paid when its payment sources have debited its total, and
    as refunded when they have refunded it.
    """

    source = "oscar"
    watch = {"payment.Source": "order"}

    def get_receivers(self) -> list[base.Receiver]:
        from omnichannel.integrations.oscar import receivers

        return receivers.order_receivers(self)

    def get_order_id(self, order: Any) -> str:
        return str(order.number)

    def get_customer(self, order: Any) -> base.Customer:
        user = order.user
        address = order.shipping_address or order.billing_address
        phone = getattr(order.shipping_address, "phone_number", None)
        first_name = getattr(address, "first_name", "") or getattr(
            user, "first_name", ""
        )
        last_name = getattr(address, "last_name", "") or getattr(user, "last_name", "")
        return base.Customer(
            user=user,
            email=order.guest_email or getattr(user, "email", "") or "",
            phone=str(phone) if phone else "",
            first_name=first_name or "",
            last_name=last_name or "",
        )

    def get_total(self, order: Any) -> Decimal:
        return Decimal(order.total_incl_tax)

    def get_currency(self, order: Any) -> str:
        return order.currency or app_settings.DEFAULT_CURRENCY

    def get_created_at(self, order: Any) -> datetime:
        return order.date_placed or timezone.now()

    def get_lines(self, order: Any) -> list[base.Line]:
        return [
            base.Line(
                sku=line.partner_sku or line.upc or str(line.product_id or ""),
                name=line.title,
                quantity=int(line.quantity),
                unit_price=_unit_price(line),
                category=product_category(line.product),
            )
            for line in order.lines.select_related("product").order_by("pk")
        ]

    def get_discount_codes(self, order: Any) -> list[str]:
        codes = order.discounts.exclude(voucher_code="").values_list(
            "voucher_code", flat=True
        )
        return sorted(set(codes))

    def get_cart_id(self, order: Any) -> str:
        return str(order.basket_id) if order.basket_id else ""

    def is_placed(self, order: Any) -> bool:
        """Tell whether Oscar has written the order's lines."""
        return order.lines.exists()

    def is_paid(self, order: Any) -> bool:
        if order.status in _statuses("paid"):
            return True
        debited = _payments(order)["debited"]
        return order.total_incl_tax > 0 and debited >= order.total_incl_tax

    def is_cancelled(self, order: Any) -> bool:
        return order.status in _statuses("cancelled")

    def is_refunded(self, order: Any) -> bool:
        if order.status in _statuses("refunded"):
            return True
        refunded = _payments(order)["refunded"]
        return order.total_incl_tax > 0 and refunded >= order.total_incl_tax

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
        """Create an Oscar voucher with an offer on the whole catalogue."""
        from omnichannel.integrations.contract import clean_discount_code_request
        from omnichannel.integrations.oscar.vouchers import create_voucher

        request = clean_discount_code_request(
            code=code,
            kind=kind,
            value=value,
            valid_until=valid_until,
            single_use=single_use,
        )
        return create_voucher(request, profile=profile)


class BasketAdapter(base.CartAdapter):
    """Reads Oscar's ``basket.Basket``; a change of any basket line counts.

    Open and frozen baskets (frozen while payment runs) are open carts. A merged or
    saved-for-later basket records nothing and is never reported as abandoned.
    """

    source = "oscar"
    watch = {"basket.Line": "basket"}

    def get_customer(self, basket: Any) -> base.Customer:
        owner = basket.owner
        if owner is None:
            # An anonymous basket: the registry uses the visitor cookie of the
            # request being served.
            return base.Customer()
        return base.Customer(
            user=owner,
            email=owner.email or "",
            first_name=owner.first_name or "",
            last_name=owner.last_name or "",
        )

    def get_lines(self, basket: Any) -> list[base.Line]:
        lines = basket.lines.select_related("product", "stockrecord").order_by("pk")
        return [
            base.Line(
                sku=_basket_line_sku(line),
                name=line.product.get_title() if line.product_id else "",
                quantity=int(line.quantity),
                unit_price=_basket_line_price(line),
                category=product_category(line.product),
            )
            for line in lines
        ]

    def get_currency(self, basket: Any) -> str:
        currency = (
            basket.lines.exclude(price_currency="")
            .values_list("price_currency", flat=True)
            .first()
        )
        return currency or app_settings.DEFAULT_CURRENCY

    def get_updated_at(self, basket: Any) -> datetime:
        latest = basket.lines.aggregate(latest=Max("date_updated"))["latest"]
        return latest or basket.date_submitted or basket.date_created or timezone.now()

    def is_converted(self, basket: Any) -> bool:
        return basket.status == basket.SUBMITTED

    def is_open(self, basket: Any) -> bool:
        return basket.status in (basket.OPEN, basket.FROZEN)

    def get_order_id(self, basket: Any) -> str:
        order_model = get_model("order", "Order")
        number = (
            order_model._default_manager.filter(basket=basket)
            .values_list("number", flat=True)
            .first()
        )
        return str(number) if number else ""


def product_category(product: Any) -> str:
    """Return the name of the product's first category, or ''."""
    if product is None:
        return ""
    # get_categories() returns a queryset or, when prefetched, a list.
    category = next(iter(product.get_categories()), None)
    return category.name if category is not None else ""


def _unit_price(line: Any) -> Decimal:
    for price in (line.unit_price_incl_tax, line.unit_price_excl_tax):
        if price is not None:
            return Decimal(price)
    if line.quantity and line.line_price_incl_tax is not None:
        return (Decimal(line.line_price_incl_tax) / line.quantity).quantize(CENT)
    return Decimal("0")


def _basket_line_sku(line: Any) -> str:
    stockrecord = line.stockrecord
    if stockrecord is not None and stockrecord.partner_sku:
        return stockrecord.partner_sku
    product = line.product
    return (product.upc if product is not None else "") or str(line.product_id or "")


def _basket_line_price(line: Any) -> Decimal:
    # Oscar stores the price when the line is added; without a tax rate (a US-style
    # strategy) only the price excluding tax is known.
    for price in (line.price_incl_tax, line.price_excl_tax):
        if price is not None:
            return Decimal(price)
    return Decimal("0")


def _statuses(name: str) -> list[str]:
    return list((app_settings.OSCAR_ORDER_STATUSES or {}).get(name, []))


def _payments(order: Any) -> dict[str, Decimal]:
    totals = order.sources.aggregate(
        debited=Sum("amount_debited"), refunded=Sum("amount_refunded")
    )
    return {name: totals[name] or Decimal("0") for name in ("debited", "refunded")}
