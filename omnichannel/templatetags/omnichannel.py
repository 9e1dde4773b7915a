"""Template tags of the app: ``{% load omnichannel %}``.

Each tag is a thin wrapper over a plain function that tests call directly.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from omnichannel.conversations.widget import chat_widget_html

register = template.Library()


@register.simple_tag
def omnichannel_chat_widget(
    title: str | None = None, greeting: str | None = None, transport: str = "auto"
) -> SafeString:
    """Put the chat widget on the page: ``{% omnichannel_chat_widget %}``."""
    return chat_widget_html(title=title, greeting=greeting, transport=transport)
