"""Template filters of the shop: ``{% load shop %}``."""

from decimal import Decimal

from django import template
from django.utils import formats

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
