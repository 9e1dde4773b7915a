"""Unsubscribe tokens and the RFC 8058 one-click headers."""

from __future__ import annotations

from django.core import signing

from omnichannel.conf import app_settings
from omnichannel.profiles.models import Profile

UNSUBSCRIBE_SALT = "omnichannel.consent.unsubscribe"


def make_unsubscribe_token(profile: Profile, channel: str, purpose: str) -> str:
    """Return a signed token naming the profile, channel and purpose to withdraw."""
    return signing.dumps(
        {"p": profile.pk, "c": channel, "u": purpose}, salt=UNSUBSCRIBE_SALT
    )


def build_unsubscribe_headers(
    profile: Profile, channel: str, purpose: str
) -> dict[str, str]:
    """Return the List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058).

    The URL accepts a POST with ``List-Unsubscribe=One-Click`` and withdraws the
    consent without further questions; the mailto address, when
    ``UNSUBSCRIBE_MAILTO`` is set, is the fallback for older mail clients.
    """
    token = make_unsubscribe_token(profile, channel, purpose)
    url = f"{app_settings.SITE_URL.rstrip('/')}/omnichannel/unsubscribe/{token}/"
    targets = [f"<{url}>"]
    mailto = app_settings.UNSUBSCRIBE_MAILTO
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe%20{token}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
