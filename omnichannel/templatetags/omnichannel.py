"""Template tags of the app: ``{% load omnichannel %}``.

Each domain keeps its tags in its own section below. Every tag is a thin wrapper
over a plain function of its domain that tests call directly, and no tag raises
while a page renders.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template

from omnichannel.conversations.widget import chat_widget_html

logger = logging.getLogger(__name__)

register = template.Library()


# Offers ------------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def offer_for_customer(context: Any, slug: str, profile: Any = None) -> Any:
    """Return the visitor's offer ``slug`` (code, state...) or None.

    ``{% offer_for_customer "vip-early-access" as offer %}`` then
    ``{{ offer.code }}``, ``{{ offer.state }}``, ``{% if offer.is_claimed %}``.
    """
    from omnichannel.offers.display import offer_for_customer as find

    try:
        return find(slug, request=context.get("request"), profile=profile)
    except Exception:
        logger.exception("offer_for_customer %s failed; rendering no offer", slug)
        return None


@register.inclusion_tag("omnichannel/offers/offer_code.html", takes_context=True)
def offer_code(context: Any, slug: str, profile: Any = None) -> dict[str, Any]:
    """Render "Your code: X", "You have already used this code" or nothing.

    ``{% offer_code "vip-early-access" %}``; showing an open code marks it seen.
    """
    from omnichannel.offers.display import offer_code_context

    try:
        return offer_code_context(slug, request=context.get("request"), profile=profile)
    except Exception:
        logger.exception("offer_code %s failed; rendering nothing", slug)
        return {"offer": None, "slug": slug}


@register.inclusion_tag("omnichannel/offers/offer_popup.html", takes_context=True)
def offer_popup(context: Any, slug: str, profile: Any = None) -> dict[str, Any]:
    """Render the on-site pop-up of an open offer; nothing once used or expired.

    ``{% offer_popup "cart-free-shipping" %}``
    """
    from omnichannel.offers.display import offer_popup_context

    try:
        return offer_popup_context(
            slug, request=context.get("request"), profile=profile
        )
    except Exception:
        logger.exception("offer_popup %s failed; rendering nothing", slug)
        return {"offer": None, "slug": slug}


# Conversations -----------------------------------------------------------------------


@register.simple_tag
def omnichannel_chat_widget(
    title: str | None = None, greeting: str | None = None, transport: str = "auto"
) -> str:
    """Put the chat widget on the page: ``{% omnichannel_chat_widget %}``.

    Options: ``title``, ``greeting`` and ``transport`` (``auto``, ``sse`` or
    ``poll``). A bad option is logged and the widget left out.
    """

    try:
        return chat_widget_html(title=title, greeting=greeting, transport=transport)
    except Exception:
        logger.exception("omnichannel_chat_widget failed; rendering no widget")
        return ""
