"""Marketing consent given in the shop's forms, recorded by the omnichannel app."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

#: The wording next to the checkbox. It is stored with the consent as its proof.
EMAIL_OPT_IN_LABEL = _(
    "Email me news and offers. I can unsubscribe at any time with one click."
)
EMAIL_OPT_IN_VERSION = "shop-email-2026-12"


def record_email_opt_in(
    request: HttpRequest, email: str, *, source: str, user: Any = None
) -> None:
    """Record that the customer ticked the newsletter box, when the app is installed."""
    if not apps.is_installed("omnichannel"):
        return
    from omnichannel.api import identify, record_consent

    profile = identify(email=email, user=user)
    record_consent(
        profile,
        "email",
        True,
        source=source,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.headers.get("User-Agent", "")[:500],
        wording_version=EMAIL_OPT_IN_VERSION,
        proof={"wording": str(EMAIL_OPT_IN_LABEL)},
    )
