"""Plain functions behind the personalisation template tags, views and API.

Template tags call these and tests call them directly. Functions that render return
HTML. The tags catch and log their errors, so a page renders even when one fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from omnichannel.personalisation.models import Banner, Popup
from omnichannel.personalisation.visitor import page_context, rule_key
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

#: A visitor last seen at least this long ago is on a return visit.
RETURN_GAP = timedelta(minutes=30)
BANNER_TEMPLATE = "omnichannel/personalisation/banner.html"
POPUP_TEMPLATE = "omnichannel/personalisation/popup.html"
MESSAGES_TEMPLATE = "omnichannel/personalisation/messages.html"


# Placements -----------------------------------------------------------------------


def choose_banner(request: Any, placement: str) -> Banner | None:
    """Return the banner the request's visitor sees in ``placement``, or None."""
    return page_context(request).banner_for(placement)


def render_banner(
    banner: Banner | None, placement: str, template: str | None = None
) -> str:
    """Return the HTML of one banner in its placement; empty for None.

    ``template`` replaces the default banner template, for a placement with a
    look of its own such as a navigation item.
    """
    if banner is None:
        return ""
    context = {
        "banner": banner,
        "placement": placement,
        "href": banner_link(banner),
    }
    return render_to_string(template or BANNER_TEMPLATE, context)


def banner_link(banner: Banner) -> str:
    """Return the banner's tracked link, which counts the click and redirects."""
    if not banner.link_url:
        return ""
    return reverse("omnichannel:banner-click", args=[banner.pk])


def render_placement(request: Any, placement: str, template: str | None = None) -> str:
    """Return the HTML of the banner the visitor sees in ``placement``.

    On any error the placement's fallback is rendered, or nothing.
    """
    context = page_context(request)
    try:
        return render_banner(context.banner_for(placement), placement, template)
    except Exception:
        logger.exception("placement %s failed; rendering its fallback", placement)
    try:
        return render_banner(context.fallback_for(placement), placement, template)
    except Exception:
        logger.exception(
            "fallback of placement %s failed; rendering nothing", placement
        )
        return ""


def render_lazy_placement(placement: str, fallback_html: str = "") -> str:
    """Return a placeholder that htmx fills with the visitor's banner after load.

    The page itself is then the same for everyone, so a page cache may keep it.
    """
    url = reverse("omnichannel:placement-fragment", args=[placement])
    return format_html(
        '<div class="omnichannel-placement" data-placement="{}" hx-get="{}" '
        'hx-trigger="load" hx-swap="outerHTML">{}</div>',
        placement,
        url,
        fallback_html,
    )


# Segments and the profile ---------------------------------------------------------


def in_segment(request: Any, *slugs: str) -> bool:
    """Tell whether the request's visitor is a member of any of the segments."""
    return page_context(request).in_segments(slugs)


def current_profile(request: Any) -> Profile | None:
    """Return the request's profile, or None for a visitor the app has not seen."""
    context = page_context(request)
    context.load()
    return context.profile


# Pop-ups --------------------------------------------------------------------------


def is_return_visit(profile: Profile | None, now: Any = None) -> bool:
    """Tell whether the visitor was last seen at least ``RETURN_GAP`` ago."""
    if profile is None or profile.last_seen_at is None:
        return False
    return (now or timezone.now()) - profile.last_seen_at >= RETURN_GAP


def choose_popup(request: Any) -> Popup | None:
    """Return the pop-up the request's visitor sees on this page, or None.

    Live pop-ups are read with one query and their rules answered with one more.
    A return-visit pop-up is left out unless this is a return visit.
    """
    context = page_context(request)
    popups = list(Popup.objects.filter(Popup.live_q(context.now)))
    if not popups:
        return None
    rules = {popup.pk: showing_rules(popup) for popup in popups}
    results = context.evaluate_many({rule_key(rule): rule for rule in rules.values()})
    returning = is_return_visit(context.profile, context.now)
    for popup in sorted(popups, key=lambda item: (-item.priority, item.pk)):
        if popup.trigger == Popup.Trigger.RETURN and not returning:
            continue
        if results.get(rule_key(rules[popup.pk])):
            return popup
    return None


#: A visitor who already agreed to marketing email has nothing to sign up for.
WITHOUT_EMAIL_CONSENT = {
    "not": {
        "type": "consent",
        "channel": "email",
        "purpose": "marketing",
        "state": "granted",
    }
}


def showing_rules(popup: Popup) -> Any:
    """Return the rules a visitor must meet to see ``popup``.

    An email-capture pop-up also requires that the visitor has not granted
    marketing email consent, through the pop-up, a sign-up form or checkout.
    """
    if not popup.collect_email:
        return popup.rules
    return {"all": [popup.rules or {"all": []}, WITHOUT_EMAIL_CONSENT]}


def popup_context(request: Any, popup: Popup, **extra: Any) -> dict[str, Any]:
    """Return what the pop-up template renders, with the visitor's offer state."""
    offer = None
    if popup.offer_slug:
        from omnichannel.offers.display import offer_code_context

        profile = current_profile(request)
        offer = offer_code_context(popup.offer_slug, request=request, profile=profile)
    values = extra.get("values") or {}
    page = values.get("page") or str(getattr(request, "path", "") or "")
    return {
        "popup": popup,
        "offer": offer,
        "submit_url": reverse("omnichannel:popup-submit", args=[popup.key]),
        "page": page[:500],
        **extra,
    }


def render_popup(request: Any) -> str:
    """Return the HTML of the visitor's pop-up, or nothing."""
    popup = choose_popup(request)
    if popup is None:
        return ""
    context = popup_context(request, popup)
    return render_to_string(POPUP_TEMPLATE, context, request=request)


# On-site messages -----------------------------------------------------------------


def take_onsite_messages(request: Any) -> list[Any]:
    """Return the visitor's on-site messages not shown before, and mark them shown.

    Each message appears on one page view only; a message that expired or was
    dismissed never appears.
    """
    from omnichannel.channels.onsite import mark_shown, pending_onsite_messages

    profile = current_profile(request)
    if profile is None:
        return []
    messages = list(pending_onsite_messages(profile).filter(shown_at__isnull=True))
    mark_shown(messages)
    return messages


def render_onsite_messages(request: Any) -> str:
    messages = take_onsite_messages(request)
    if not messages:
        return ""
    return render_to_string(MESSAGES_TEMPLATE, {"messages": messages})


# Impressions and clicks -----------------------------------------------------------


def variant_labels(profile: Profile | None, rules: Any) -> list[str]:
    """Return ``experiment/variant`` for each experiment a rule reads.

    The arm is the profile's stored assignment; ``holdout`` for the holdout group.
    """
    from omnichannel.experiments.models import Assignment
    from omnichannel.personalisation.visitor import experiment_keys

    keys = experiment_keys(rules) if isinstance(rules, dict) else []
    if profile is None or not keys:
        return []
    rows = Assignment.objects.filter(
        profile=profile, experiment__key__in=keys
    ).values_list("experiment__key", "variant__key")
    found = dict(rows)
    return [f"{key}/{found[key] or 'holdout'}" for key in keys if key in found]


def banner_properties(banner: Banner, profile: Profile | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "banner": banner.pk,
        "banner_name": banner.name[:200],
        "placement": banner.placement.key,
    }
    variants = variant_labels(profile, banner.rules)
    if variants:
        properties["variant"] = variants[0]
        properties["variants"] = variants
    return properties


def record_banner_event(request: Any, banner: Banner, event: str) -> Any:
    """Track ``banner_viewed`` or ``banner_clicked`` on the visitor's profile."""
    from omnichannel.profiles.services import profile_for_request, track

    if event not in ("banner_viewed", "banner_clicked"):
        raise ValueError("event must be banner_viewed or banner_clicked.")
    profile = profile_for_request(request, create=True)
    return track(
        event,
        profile=profile,
        request=request,
        properties=banner_properties(banner, profile),
        source="web",
        object_type="banner",
        object_id=banner.pk,
    )


def record_popup_event(request: Any, popup: Popup, event: str) -> Any:
    """Track ``popup_viewed`` or ``popup_submitted`` on the visitor's profile."""
    from omnichannel.profiles.services import profile_for_request, track

    profile = profile_for_request(request, create=True)
    return track(
        event,
        profile=profile,
        request=request,
        properties={"popup": popup.key},
        source="web",
        object_type="popup",
        object_id=popup.pk,
    )


# Email capture --------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """The rows a pop-up's email form stored."""

    profile: Profile
    consent: Any
    preference: Any


def capture_email(
    request: Any,
    popup: Popup,
    *,
    email: str,
    preference: str = "",
    page: str = "",
) -> Capture:
    """Store the email, marketing consent with proof and a stated preference.

    Everything is written in one transaction, so an error leaves nothing behind.
    Raises InvalidIdentifier for a bad email and ValueError for a bad preference.
    """
    from omnichannel.consent.services import record_consent
    from omnichannel.profiles.services import identify, record_preference, track

    if preference and preference not in popup.preference_choices:
        raise ValueError(
            f"preference {preference[:50]!r} is not one of the pop-up's "
            "preference_choices; send one of them."
        )
    source = f"popup:{popup.key}"[:64]
    with transaction.atomic():
        profile = identify(request, email=email, source=source)
        consent = record_consent(
            profile,
            "email",
            True,
            source=source,
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", "") if request else "",
            wording_version=popup.consent_version,
            proof={
                "form": "popup",
                "popup": popup.key,
                "wording": popup.consent_text,
                "page": page[:500],
                "checkbox": True,
            },
            address=profile.email or email,
        )
        stored_preference = None
        if preference:
            stored_preference = record_preference(
                profile, popup.preference_key, preference, source=source
            )
        track(
            "popup_submitted",
            profile=profile,
            properties={"popup": popup.key, "preference": preference[:200]},
            source="web",
            object_type="popup",
            object_id=popup.pk,
        )
    return Capture(profile=profile, consent=consent, preference=stored_preference)


def client_ip(request: Any) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def live_popup(key: str, now: Any = None) -> Popup | None:
    """Return the live pop-up ``key``, or None."""
    return Popup.objects.filter(Popup.live_q(now or timezone.now()), key=key).first()
