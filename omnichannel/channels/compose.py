"""Turn a message template and one recipient's context into the finished message.

Each channel has its own steps. Email inlines CSS, tags and tracks links and adds an
open pixel. SMS shortens links, adds the opt-out line and counts segments. Push and
on-site messages tag and track their one link.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import css_inline

from omnichannel.channels import gsm, links
from omnichannel.channels.rendering import render_source
from omnichannel.channels.text import html_to_text
from omnichannel.conf import app_settings
from omnichannel.consent.models import Purpose
from omnichannel.exceptions import RenderError

if TYPE_CHECKING:
    from omnichannel.channels.models import MessageTemplate

logger = logging.getLogger(__name__)

HELD_TOO_LONG = "too_many_segments"


@dataclass
class RenderedMessage:
    """A message ready for a backend; ``held_reason`` set means do not send it."""

    channel: str
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    url: str = ""
    parameters: list[str] = field(default_factory=list)
    sms: gsm.SMSInfo | None = None
    transliterated: bool = False
    held_reason: str = ""


@dataclass
class LinkPolicy:
    """Rules for rewriting the links of one message.

    ``delivery_id`` is None in previews and test sends, which are never tracked.
    ``track`` is true only for recipients who consented to click tracking.
    ``shorten`` turns a URL into a short link (SMS only).
    """

    campaign: str
    delivery_id: int | None = None
    track: bool = False
    shorten: Callable[[str], str] | None = None
    # The same link often appears in the HTML and the text part.
    _rewritten: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _utm: tuple[frozenset[str], str] = field(
        default_factory=links.utm_settings, repr=False
    )
    _site: str = field(default_factory=links.site_url, repr=False)

    @property
    def tracked(self) -> bool:
        return self.track and self.delivery_id is not None

    def rewrite(self, url: str, medium: str) -> str:
        key = (url, medium)
        if key in self._rewritten:
            return self._rewritten[key]
        result = links.add_utm(
            url, medium=medium, campaign=self.campaign, settings=self._utm
        )
        if self.tracked and not _is_unsubscribe(result):
            assert self.delivery_id is not None
            result = links.click_url(self.delivery_id, result, site=self._site)
        self._rewritten[key] = result
        return result


def _is_unsubscribe(url: str) -> bool:
    return "/unsubscribe/" in url


def compose(
    template: MessageTemplate, context: Mapping[str, Any], policy: LinkPolicy
) -> RenderedMessage:
    """Render ``template`` for one recipient; raise RenderError if it fails."""
    composer = COMPOSERS.get(template.channel, _compose_plain)
    try:
        return composer(template, context, policy)
    except RenderError:
        raise
    except Exception as error:
        raise RenderError(
            f"Template {template.slug!r} failed to render: "
            f"{type(error).__name__}: {error}"
        ) from error


#: Template fields that a delivery's ``context["overrides"]`` may replace, such as
#: the subject of an A/B test arm.
OVERRIDABLE_FIELDS = ("subject", "preheader", "body")


def with_overrides(
    template: MessageTemplate, context: Mapping[str, Any] | None
) -> MessageTemplate:
    """Return ``template``, or an unsaved copy with the context's overrides applied."""
    overrides = (context or {}).get("overrides")
    if not isinstance(overrides, Mapping):
        return template
    changes = {
        name: overrides[name]
        for name in OVERRIDABLE_FIELDS
        if isinstance(overrides.get(name), str)
    }
    if not changes:
        return template
    changed = copy.copy(template)
    for name, value in changes.items():
        setattr(changed, name, value)
    return changed


def _one_line(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=64)
def _inliner(css: str) -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, extra_css=css or None)


def _append_to_body(body: str, footer: str) -> str:
    index = body.lower().rfind("</body>")
    if index == -1:
        return body + footer
    return body[:index] + footer + body[index:]


def _wrap_document(body: str, subject: str, preheader: str) -> str:
    hidden = ""
    if preheader:
        hidden = (
            '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
            f"{preheader}</div>"
        )
    if "<body" in body.lower():
        index = body.lower().find(">", body.lower().find("<body")) + 1
        return body[:index] + hidden + body[index:]
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{subject}</title></head><body>{hidden}{body}</body></html>"
    )


#: Added to a marketing email whose body does not place ``{{ unsubscribe_url }}``
#: itself, so that every such email shows a one-click way out.
EMAIL_FOOTER = (
    '<p style="margin-top:24px;font-size:12px;color:#6b7280">'
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a> · '
    '<a href="{{ preferences_url }}">Manage your email preferences</a></p>'
)


def adds_footer(template: MessageTemplate) -> bool:
    """Tell whether composing ``template`` appends the unsubscribe footer."""
    return (
        template.channel == "email"
        and template.purpose == Purpose.MARKETING
        and "unsubscribe_url" not in (template.body or "")
    )


def _compose_email(
    template: MessageTemplate, context: Mapping[str, Any], policy: LinkPolicy
) -> RenderedMessage:
    from django.utils.html import escape

    subject = _one_line(render_source(template.subject, context, html=False))
    preheader = _one_line(render_source(template.preheader, context, html=False))
    body = render_source(template.body, context, html=True)
    if adds_footer(template) and context.get("unsubscribe_url"):
        body = _append_to_body(body, render_source(EMAIL_FOOTER, context, html=True))
    html = _wrap_document(body, escape(subject), escape(preheader))
    html = _inliner(template.css).inline(html)
    if template.text_body:
        text = render_source(template.text_body, context, html=False)
    else:
        text = html_to_text(html)
    html = links.neutralise_script_links(html)
    html = links.rewrite_html_links(html, lambda url: policy.rewrite(url, "email"))
    text = links.rewrite_text_links(text, lambda url: policy.rewrite(url, "email"))
    if policy.tracked:
        assert policy.delivery_id is not None
        html = links.insert_open_pixel(html, policy.delivery_id)
    return RenderedMessage(
        channel=template.channel,
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
    )


OPT_OUT_WORD = re.compile(r"\bSTOP\b")


def has_opt_out(text: str) -> bool:
    """Tell whether an SMS already tells how to opt out (the word STOP)."""
    return OPT_OUT_WORD.search(text) is not None


def _compose_sms(
    template: MessageTemplate, context: Mapping[str, Any], policy: LinkPolicy
) -> RenderedMessage:
    text = render_source(template.body, context, html=False).strip()
    if template.purpose == Purpose.MARKETING and not has_opt_out(text):
        text = f"{text}\n{app_settings.SMS_STOP_TEXT}"

    def rewrite(url: str) -> str:
        tagged = links.add_utm(
            url, medium="sms", campaign=policy.campaign, settings=policy._utm
        )
        # A link already shorter than a short link is sent as written.
        if policy.shorten is None or len(tagged) <= links.short_url_length():
            return tagged
        return policy.shorten(tagged)

    text = links.rewrite_text_links(text, rewrite)
    message = RenderedMessage(channel=template.channel, text=text)
    message.sms = gsm.sms_info(text)
    limit = template.sms_max_segments
    if not limit or message.sms.segments <= limit:
        return message
    if template.sms_overflow == "transliterate":
        simpler = gsm.transliterate(text)
        info = gsm.sms_info(simpler)
        if info.segments <= limit:
            message.text, message.sms, message.transliterated = simpler, info, True
            return message
    message.held_reason = HELD_TOO_LONG
    return message


def _compose_linked(
    template: MessageTemplate, context: Mapping[str, Any], policy: LinkPolicy
) -> RenderedMessage:
    is_html = template.channel == "onsite"
    body = render_source(template.body, context, html=is_html)
    url = render_source(template.url, context, html=False).strip()
    if url:
        url = policy.rewrite(url, template.channel)
    return RenderedMessage(
        channel=template.channel,
        subject=_one_line(render_source(template.subject, context, html=False)),
        html=body if is_html else "",
        text=html_to_text(body) if is_html else body.strip(),
        url=url,
    )


def _compose_whatsapp(
    template: MessageTemplate, context: Mapping[str, Any], policy: LinkPolicy
) -> RenderedMessage:
    text = render_source(template.body, context, html=False)
    parameters = [line.strip() for line in text.splitlines() if line.strip()]
    return RenderedMessage(
        channel=template.channel, text="\n".join(parameters), parameters=parameters
    )


def _compose_plain(
    template: MessageTemplate, context: Mapping[str, Any], policy: LinkPolicy
) -> RenderedMessage:
    return RenderedMessage(
        channel=template.channel,
        subject=_one_line(render_source(template.subject, context, html=False)),
        text=render_source(template.body, context, html=False).strip(),
    )


COMPOSERS: dict[str, Callable[..., RenderedMessage]] = {
    "email": _compose_email,
    "sms": _compose_sms,
    "push": _compose_linked,
    "webpush": _compose_linked,
    "onsite": _compose_linked,
    "whatsapp": _compose_whatsapp,
    "webhook": _compose_plain,
}
