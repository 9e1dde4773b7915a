"""The HTML that puts the chat widget on a page."""

from __future__ import annotations

import json

from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from omnichannel.conf import app_settings

TRANSPORTS = ("auto", "sse", "poll")
LABELS = {
    "close": _("Close the chat"),
    "input": _("Your message"),
    "placeholder": _("Write a message…"),
    "send": _("Send"),
    "you": _("You"),
    "agent": _("Support team"),
    "bot": _("Assistant"),
    "restart": _("Start a new conversation"),
    "closed": _("This conversation is closed."),
    "empty": _("Write a message first."),
    "tooLong": _("The message is too long."),
    "throttled": _("You are sending messages too fast. Try again in a moment."),
    "failed": _("The message could not be sent. Check your connection and try again."),
    "expired": _("This conversation is no longer available in this browser."),
}


def chat_widget_html(
    *,
    title: str | None = None,
    greeting: str | None = None,
    transport: str = "auto",
) -> SafeString:
    """Return the widget's stylesheet link and script tag.

    ``transport`` picks how new messages arrive: ``sse`` (server-sent events),
    ``poll`` (a request every ``CHAT_POLL_SECONDS``) or ``auto`` (events, falling
    back to polling when they fail). Raises ValueError for another transport.
    """
    if transport not in TRANSPORTS:
        raise ValueError(
            f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}."
        )
    return format_html(
        '<link rel="stylesheet" href="{css}">'
        '<script src="{js}" defer data-omnichannel-chat data-api="{api}" '
        'data-title="{title}" data-greeting="{greeting}" '
        'data-max-length="{max_length}" '
        'data-poll-seconds="{poll}" data-transport="{transport}" '
        'data-labels="{labels}"></script>',
        css=static("omnichannel/chat-widget.css"),
        js=static("omnichannel/chat-widget.js"),
        api=reverse("omnichannel:chat_start"),
        title=title or _("Questions? Chat with us"),
        greeting=greeting
        or _("Hello! Ask us anything about your order, delivery or our products."),
        max_length=int(app_settings.CHAT_MESSAGE_MAX_LENGTH),
        poll=int(app_settings.CHAT_POLL_SECONDS),
        transport=transport,
        labels=json.dumps({key: str(value) for key, value in LABELS.items()}),
    )
