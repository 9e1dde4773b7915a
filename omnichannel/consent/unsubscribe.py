"""Signed unsubscribe and preference-centre links, and the List-Unsubscribe headers.

Every marketing email carries ``List-Unsubscribe`` with an https link and a mailto
address, plus ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, as RFC 8058
(one-click unsubscribe) requires. The link holds a token signed with the project's
SECRET_KEY, naming the profile, channel, purpose and optional topic. Tokens do not
expire, because people unsubscribe from old messages too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.core import signing
from django.urls import reverse

from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel, ConsentRecord, Purpose
from omnichannel.consent.services import set_consent
from omnichannel.exceptions import InvalidToken
from omnichannel.profiles.models import Profile
from omnichannel.profiles.services import find_profile, track

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "omnichannel.consent.unsubscribe"
PREFERENCES_SALT = "omnichannel.consent.preferences"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_:\-\.]{20,400}")


@dataclass(frozen=True)
class UnsubscribeTarget:
    """What a valid unsubscribe token names."""

    profile: Profile
    channel: str
    purpose: str
    topic: str


def make_unsubscribe_token(
    profile: Profile,
    channel: str = Channel.EMAIL,
    purpose: str = Purpose.MARKETING,
    *,
    topic: str = "",
) -> str:
    """Return a signed token naming the profile, channel, purpose and topic."""
    if channel not in Channel.values:
        raise ValueError(f"Unknown channel {channel!r}; use one of {Channel.values}.")
    if purpose not in Purpose.values:
        raise ValueError(f"Unknown purpose {purpose!r}; use one of {Purpose.values}.")
    payload = {"p": profile.uuid.hex, "c": channel, "u": purpose}
    if topic:
        payload["t"] = topic
    return signing.dumps(payload, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> UnsubscribeTarget:
    """Return what a token names; raise InvalidToken if it was forged or altered."""
    data = _load(token, UNSUBSCRIBE_SALT)
    channel, purpose = data.get("c"), data.get("u")
    if channel not in Channel.values or purpose not in Purpose.values:
        raise InvalidToken("The token names an unknown channel or purpose.")
    profile = find_profile(uuid=data.get("p"))
    if profile is None:
        raise InvalidToken("The token names a profile that no longer exists.")
    return UnsubscribeTarget(
        profile=profile, channel=channel, purpose=purpose, topic=data.get("t", "")
    )


def make_preferences_token(profile: Profile) -> str:
    """Return a signed token that opens the preference centre of ``profile``."""
    return signing.dumps({"p": profile.uuid.hex}, salt=PREFERENCES_SALT)


def read_preferences_token(token: str) -> Profile:
    """Return the profile a preference-centre token names, or raise InvalidToken."""
    data = _load(token, PREFERENCES_SALT)
    profile = find_profile(uuid=data.get("p"))
    if profile is None:
        raise InvalidToken("The token names a profile that no longer exists.")
    return profile


def _load(token: str, salt: str) -> dict[str, Any]:
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise InvalidToken("The token is malformed.")
    try:
        data = signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise InvalidToken("The token's signature does not match.") from None
    if not isinstance(data, dict):
        raise InvalidToken("The token is malformed.")
    return data


def absolute_url(path: str) -> str:
    return app_settings.SITE_URL.rstrip("/") + path


def unsubscribe_url(
    profile: Profile,
    channel: str = Channel.EMAIL,
    purpose: str = Purpose.MARKETING,
    *,
    topic: str = "",
) -> str:
    """Return the absolute one-click unsubscribe URL for ``profile``."""
    token = make_unsubscribe_token(profile, channel, purpose, topic=topic)
    return absolute_url(reverse("omnichannel:unsubscribe", args=[token]))


def preference_centre_url(profile: Profile) -> str:
    """Return the absolute URL of the preference centre of ``profile``."""
    token = make_preferences_token(profile)
    return absolute_url(reverse("omnichannel:preferences", args=[token]))


def build_unsubscribe_headers(
    profile: Profile, channel: str = Channel.EMAIL, purpose: str = Purpose.MARKETING
) -> dict[str, str]:
    """Return the ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers.

    The mailto part is added when ``UNSUBSCRIBE_MAILTO`` is set; its subject holds
    the same token, for ``handle_unsubscribe_mail``.
    """
    token = make_unsubscribe_token(profile, channel, purpose)
    links = [absolute_url(reverse("omnichannel:unsubscribe", args=[token]))]
    mailbox = app_settings.UNSUBSCRIBE_MAILTO
    if mailbox:
        subject = quote(f"unsubscribe {token}")
        links.append(f"mailto:{mailbox}?subject={subject}")
    return {
        "List-Unsubscribe": ", ".join(f"<{link}>" for link in links),
        "List-Unsubscribe-Post": ONE_CLICK_BODY,
    }


def apply_unsubscribe(
    target: UnsubscribeTarget,
    *,
    method: str,
    ip_address: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> ConsentRecord | None:
    """Withdraw what the token names; return the new ledger row, or None when the
    consent was withdrawn already (a second click changes nothing)."""
    profile = target.profile
    if profile.erased_at is not None:
        return None
    record = set_consent(
        profile,
        target.channel,
        False,
        purpose=target.purpose,
        topic=target.topic,
        at=at,
        source=f"unsubscribe-{method}",
        ip_address=ip_address,
        user_agent=user_agent,
        proof={"method": method},
    )
    if record is not None:
        track(
            "unsubscribed",
            profile=profile,
            source=target.channel,
            occurred_at=record.recorded_at,
            properties={
                "channel": target.channel,
                "purpose": target.purpose,
                "topic": target.topic,
                "method": method,
            },
        )
    return record


def handle_unsubscribe_mail(subject: str) -> bool:
    """Unsubscribe by a mail sent to the List-Unsubscribe mailto address.

    Returns whether the subject held a valid token.
    """
    for word in reversed((subject or "").split()):
        try:
            target = read_unsubscribe_token(word)
        except InvalidToken:
            continue
        apply_unsubscribe(target, method="mailto")
        return True
    return False
