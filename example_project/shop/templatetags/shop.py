"""Template filters of the shop: ``{% load shop %}``."""

from decimal import Decimal
from typing import Any

from django import template
from django.db.models import QuerySet
from django.utils import formats

from shop.cart import get_cart
from shop.models import Category

register = template.Library()

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def format_money(amount: Decimal | int | float | str, currency: str = "EUR") -> str:
    """Format an amount with two decimals and its currency, e.g. ``€1,234.90``."""
    number = formats.number_format(Decimal(amount), 2, force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol is None:
        return f"{number} {currency}"
    return f"{symbol}{number}"


@register.filter
def money(amount: Decimal | int | float | str, currency: str = "EUR") -> str:
    """Render ``{{ product.price|money:product.currency }}``."""
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency or "EUR")


@register.simple_tag
def top_categories() -> QuerySet[Category]:
    """Return the root categories: ``{% top_categories as categories %}``."""
    return Category.objects.filter(parent__isnull=True)


@register.simple_tag(takes_context=True)
def cart_item_count(context: dict[str, Any]) -> int:
    """Return the number of items in the visitor's open cart."""
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return 0
    cart = get_cart(request)
    return cart.item_count if cart is not None else 0
