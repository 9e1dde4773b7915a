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


# Personalisation ---------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def placement(
    context: Any, key: str, lazy: bool = False, template: str | None = None
) -> str:
    """Render the visitor's banner in a placement: ``{% placement "home-hero" %}``.

    ``lazy=True`` renders a placeholder that htmx fills after the page loads, so a
    page cache can keep the page itself. ``{% placement "home-hero" as hero %}``
    stores the HTML, empty when no banner applies, for a default of the template's
    own. ``template="shop/nav_item.html"`` renders the banner with another
    template, which receives ``banner``, ``placement`` and ``href``. Errors are
    logged and the placement's fallback, or nothing, is shown.
    """
    from omnichannel.personalisation import services

    try:
        if lazy:
            return services.render_lazy_placement(key)
        return services.render_placement(context.get("request"), key, template)
    except Exception:
        logger.exception("placement %s failed; rendering nothing", key)
        return ""


class SegmentNode(template.Node):
    def __init__(
        self,
        slugs: list[Any],
        members: template.NodeList,
        others: template.NodeList,
    ) -> None:
        self.slugs = slugs
        self.members = members
        self.others = others

    def render(self, context: template.Context) -> str:
        from omnichannel.personalisation.services import in_segment

        try:
            slugs = [str(slug.resolve(context)) for slug in self.slugs]
            member = in_segment(context.get("request"), *slugs)
        except Exception:
            logger.exception("if_segment failed; rendering the else branch")
            member = False
        return (self.members if member else self.others).render(context)


@register.tag("if_segment")
def if_segment(parser: template.base.Parser, token: template.base.Token) -> SegmentNode:
    """Show a block to members of any of the segments, else the ``else`` block.

    ``{% if_segment "vip" "rfm-champions" %}...{% else %}...{% endif_segment %}``.
    Visitors without a profile see the ``else`` block.
    """
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(
            "{% if_segment %} needs at least one segment slug, such as "
            '{% if_segment "vip" %}.'
        )
    slugs = [parser.compile_filter(bit) for bit in bits[1:]]
    members = parser.parse(("else", "endif_segment"))
    others = template.NodeList()
    if parser.next_token().contents == "else":
        others = parser.parse(("endif_segment",))
        parser.delete_first_token()
    return SegmentNode(slugs, members, others)


@register.simple_tag(takes_context=True)
def current_profile(context: Any) -> Any:
    """Return the visitor's profile or None: ``{% current_profile as profile %}``."""
    from omnichannel.personalisation.services import current_profile as find

    try:
        return find(context.get("request"))
    except Exception:
        logger.exception("current_profile failed; returning no profile")
        return None


@register.simple_tag(takes_context=True)
def omnichannel_popup(context: Any) -> str:
    """Render the visitor's pop-up, hidden until its trigger fires, or nothing.

    Put it once near the end of the page, with ``{% omnichannel_scripts %}``.
    """
    from omnichannel.personalisation.services import render_popup

    try:
        return render_popup(context.get("request"))
    except Exception:
        logger.exception("omnichannel_popup failed; rendering no pop-up")
        return ""


@register.simple_tag(takes_context=True)
def onsite_messages(context: Any) -> str:
    """Render the on-site messages journeys queued for the visitor, once each."""
    from omnichannel.personalisation.services import render_onsite_messages

    try:
        return render_onsite_messages(context.get("request"))
    except Exception:
        logger.exception("onsite_messages failed; rendering no messages")
        return ""


@register.simple_tag
def omnichannel_scripts() -> str:
    """Load the vendored htmx and the script for impressions and pop-ups."""
    from django.templatetags.static import static
    from django.urls import reverse
    from django.utils.html import format_html

    try:
        return format_html(
            '<script src="{}" defer></script>\n'
            '<script src="{}" data-events-url="{}" defer></script>',
            static("omnichannel/vendor/htmx-2.0.11.min.js"),
            static("omnichannel/personalisation.js"),
            reverse("omnichannel:personalisation-events"),
        )
    except Exception:
        logger.exception("omnichannel_scripts failed; rendering no scripts")
        return ""
