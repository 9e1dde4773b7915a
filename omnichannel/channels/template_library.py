"""Tags available in every message template without ``{% load %}``.

``{% segment "vip" "champions" %}...{% else %}...{% endsegment %}`` renders its
first part when the recipient is in any of the named segments (by slug), the part
after ``{% else %}`` otherwise. Conditions on values use the built-in ``{% if %}``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token

register = template.Library()


class SegmentNode(template.Node):
    def __init__(
        self,
        slugs: list[FilterExpression],
        inside: NodeList,
        outside: NodeList,
    ) -> None:
        self.slugs = slugs
        self.nodelist_inside = inside
        self.nodelist_outside = outside

    def render(self, context: template.Context) -> str:
        member_of = context.get("segments") or ()
        wanted = {str(slug.resolve(context)) for slug in self.slugs}
        if wanted & set(member_of):
            return self.nodelist_inside.render(context)
        return self.nodelist_outside.render(context)


@register.tag("segment")
def do_segment(parser: Parser, token: Token) -> SegmentNode:
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(
            "'segment' needs at least one segment slug, as in {% segment \"vip\" %}."
        )
    slugs = [parser.compile_filter(bit) for bit in bits[1:]]
    inside = parser.parse(("else", "endsegment"))
    outside = NodeList()
    if parser.next_token().contents == "else":
        outside = parser.parse(("endsegment",))
        parser.delete_first_token()
    return SegmentNode(slugs, inside, outside)


@register.filter
def first_word(value: Any) -> str:
    """Return the first word of ``value``, for greetings from a full name."""
    words = str(value or "").split()
    return words[0] if words else ""
