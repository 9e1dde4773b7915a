"""Template filters of the shop: ``{% load shop %}``."""

from decimal import Decimal
from typing import Any

from django import template
from django.apps import apps
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import formats
from django.utils.safestring import SafeString

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


@register.simple_tag(takes_context=True)
def personal_offer(context: Any, slug: str, style: str = "code") -> SafeString | str:
    """Render the visitor's personal offer from the omnichannel app, if it is installed.

    ``{% personal_offer "vip-early-access" %}`` shows the code or "already used";
    ``style="popup"`` renders a pop-up that only appears while the code is open.
    """
    if not apps.is_installed("omnichannel"):
        return ""
    from omnichannel.templatetags import omnichannel as tags

    if style == "popup":
        values = tags.offer_popup(context, slug)
        return render_to_string("omnichannel/offers/offer_popup.html", values)
    values = tags.offer_code(context, slug)
    return render_to_string("omnichannel/offers/offer_code.html", values)


@register.simple_tag
def omnichannel_installed() -> bool:
    """Return whether the omnichannel app is installed, so the shop's templates
    can add its chat widget and still render without it."""
    return apps.is_installed("omnichannel")
