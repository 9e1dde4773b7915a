"""Previews and test sends of a template, as a chosen customer would get it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnichannel.channels import links
from omnichannel.channels.backends.base import OutgoingMessage, SendResult
from omnichannel.channels.compose import LinkPolicy, RenderedMessage, compose
from omnichannel.channels.models import MessageTemplate
from omnichannel.channels.registry import get_backend
from omnichannel.channels.rendering import build_context, prefetch
from omnichannel.exceptions import DeliveryError
from omnichannel.profiles.models import Profile

TEST_PREFIX = "[Test] "
# Stands in for a short link in previews so that SMS lengths come out right.
PREVIEW_SHORT_CODE = "x" * links.SHORT_CODE_LENGTH


def render_preview(
    template: MessageTemplate,
    profile: Profile,
    context: Mapping[str, Any] | None = None,
) -> RenderedMessage:
    """Render ``template`` for ``profile`` without tracking; raise RenderError."""
    personalisation = prefetch(
        [profile], recommendation_count=template.recommendation_count
    )
    policy = LinkPolicy(
        campaign=template.utm_campaign or template.slug,
        shorten=(lambda url: links.short_url(PREVIEW_SHORT_CODE))
        if template.channel == "sms"
        else None,
    )
    return compose(template, build_context(profile, personalisation, context), policy)


def send_test(
    template: MessageTemplate,
    profile: Profile,
    address: str,
    context: Mapping[str, Any] | None = None,
) -> SendResult:
    """Send ``template`` as ``profile`` would get it, to ``address`` instead.

    No delivery row is written, links are not tracked or shortened, and the
    subject starts with "[Test]". Raises DeliveryError for on-site messages,
    which have no address to test with, and the backend's errors as they are.
    """
    if template.channel == "onsite":
        raise DeliveryError("On-site messages have no test send; use the preview.")
    if not address.strip():
        raise DeliveryError("Enter the address that receives the test message.")
    personalisation = prefetch(
        [profile], recommendation_count=template.recommendation_count
    )
    policy = LinkPolicy(campaign=template.utm_campaign or template.slug)
    # The customer's own unsubscribe links must not reach the tester's inbox.
    placeholders = {
        "unsubscribe_url": "#unsubscribe",
        "preferences_url": "#preferences",
    }
    rendered = compose(
        template,
        build_context(profile, personalisation, {**(context or {}), **placeholders}),
        policy,
    )
    rendered.subject = TEST_PREFIX + rendered.subject if rendered.subject else ""
    message = OutgoingMessage(
        channel=template.channel,
        to=[address.strip()],
        rendered=rendered,
        profile_id=profile.pk,
        template_slug=template.slug,
        purpose=template.purpose,
        test=True,
        metadata={
            "profile_uuid": str(profile.uuid),
            "whatsapp_template": template.whatsapp_template,
            "whatsapp_language": template.whatsapp_language,
        },
    )
    return get_backend(template.channel).send(message)
