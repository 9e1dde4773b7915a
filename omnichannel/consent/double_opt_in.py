"""Email double opt-in: a signed, expiring confirmation link before consent counts.

The request (time, IP address, user agent, wording) and the confirmation click are
both kept, and the ledger row written at confirmation cites them, so the proof
shows that the owner of the address asked for the messages.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel, OptInRequest, Purpose
from omnichannel.consent.services import record_consent
from omnichannel.consent.unsubscribe import absolute_url
from omnichannel.exceptions import InvalidToken, ProfileErased
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

OPT_IN_SALT = "omnichannel.consent.double-opt-in"


def request_email_opt_in(
    profile: Profile,
    *,
    purpose: str = Purpose.MARKETING,
    topic: str = "",
    wording_version: str = "",
    source: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    send: bool = True,
) -> OptInRequest:
    """Store an opt-in request and, after commit, email its confirmation link.

    Consent counts only once the link is confirmed. Raises ValueError when the
    profile has no email address.
    """
    if profile.erased_at is not None:
        raise ProfileErased(f"Profile {profile.pk} was erased.")
    if not profile.email:
        raise ValueError("The profile has no email address to confirm.")
    opt_in = OptInRequest.objects.create(
        profile=profile,
        channel=Channel.EMAIL,
        purpose=purpose,
        topic=topic,
        wording_version=wording_version[:64],
        source=source[:64],
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:500],
    )
    if send:
        transaction.on_commit(partial(send_confirmation, opt_in.pk))
    return opt_in


def make_opt_in_token(opt_in: OptInRequest) -> str:
    return signing.dumps({"r": opt_in.pk}, salt=OPT_IN_SALT)


def confirmation_url(opt_in: OptInRequest) -> str:
    """Return the absolute URL that confirms ``opt_in``."""
    token = make_opt_in_token(opt_in)
    return absolute_url(reverse("omnichannel:confirm-opt-in", args=[token]))


def read_opt_in_token(token: str) -> OptInRequest:
    """Return the request a token names; raise InvalidToken when it was altered or
    is older than ``DOUBLE_OPT_IN_MAX_AGE`` (then ``expired`` is true)."""
    try:
        data = signing.loads(
            token, salt=OPT_IN_SALT, max_age=app_settings.DOUBLE_OPT_IN_MAX_AGE
        )
    except signing.SignatureExpired:
        raise InvalidToken("The confirmation link expired.", expired=True) from None
    except signing.BadSignature:
        raise InvalidToken("The confirmation link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int):
        raise InvalidToken("The confirmation link is not valid.")
    found = OptInRequest.objects.select_related("profile").filter(pk=data["r"]).first()
    if found is None:
        raise InvalidToken("The confirmation link names no request.")
    if _live(found.profile).erased_at is not None:
        raise InvalidToken("The confirmation link belongs to an erased profile.")
    return found


def confirm_opt_in(
    opt_in: OptInRequest,
    *,
    ip_address: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> OptInRequest:
    """Record the consent a request asked for; confirming twice records it once."""
    with transaction.atomic():
        opt_in = OptInRequest.objects.select_for_update().get(pk=opt_in.pk)
        if opt_in.confirmed_at is not None:
            return opt_in
        profile = _live(opt_in.profile)
        at = at or timezone.now()
        record = record_consent(
            profile,
            opt_in.channel,
            True,
            purpose=opt_in.purpose,
            topic=opt_in.topic,
            source="double-opt-in",
            ip_address=ip_address,
            user_agent=user_agent,
            wording_version=opt_in.wording_version,
            at=at,
            proof={
                "opt_in_request": opt_in.pk,
                "requested_at": opt_in.requested_at.isoformat(),
                "request_source": opt_in.source,
                "request_ip_address": opt_in.ip_address,
                "request_user_agent": opt_in.user_agent,
            },
        )
        opt_in.confirmed_at = at
        opt_in.confirm_ip_address = ip_address or None
        opt_in.confirm_user_agent = (user_agent or "")[:500]
        opt_in.consent_record = record
        opt_in.save(
            update_fields=[
                "confirmed_at",
                "confirm_ip_address",
                "confirm_user_agent",
                "consent_record",
            ]
        )
    return opt_in


def _live(profile: Profile) -> Profile:
    while profile.merged_into_id is not None:
        profile = profile.merged_into  # type: ignore[assignment]
    return profile


def send_confirmation(opt_in_id: int) -> None:
    """Email the confirmation link of one opt-in request."""
    opt_in = OptInRequest.objects.select_related("profile").get(pk=opt_in_id)
    profile = _live(opt_in.profile)
    if not profile.email or profile.erased_at is not None:
        logger.warning("opt-in request %s has no address to send to", opt_in_id)
        return
    context = {
        "profile": profile,
        "opt_in": opt_in,
        "confirm_url": confirmation_url(opt_in),
        "max_age_days": app_settings.DOUBLE_OPT_IN_MAX_AGE.days,
    }
    with translation.override(profile.language or None):
        subject = render_to_string(
            "omnichannel/consent/email/confirm_subject.txt", context
        )
        text = render_to_string("omnichannel/consent/email/confirm_body.txt", context)
        html = render_to_string("omnichannel/consent/email/confirm_body.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=app_settings.DOUBLE_OPT_IN_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
        to=[profile.email],
    )
    message.attach_alternative(html, "text/html")
    message.send()
    logger.info("sent the confirmation link of opt-in request %s", opt_in_id)
