"""Compiling, checking and personalising message templates.

Templates use the Django template language on an engine of their own, with the tags
of ``omnichannel.channels.template_library`` built in. A variable that is missing
renders as an empty string. What a batch of recipients needs beyond their profile
(segments, click-tracking consent, recommendations) is fetched by ``prefetch`` in a
fixed number of queries.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.template import Context, Engine, Template, TemplateDoesNotExist
from django.template.exceptions import TemplateSyntaxError
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from omnichannel.channels.recommendations import Product, get_recommender
from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel, ConsentRecord, Purpose
from omnichannel.profiles.models import Profile

if TYPE_CHECKING:
    from omnichannel.channels.models import MessageTemplate

logger = logging.getLogger(__name__)

LIBRARY = "omnichannel.channels.template_library"
HTML_CHANNELS = ("email", "onsite")
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "language",
    "time_zone",
    "birthday",
    "order_count",
    "total_spent",
    "average_order_value",
    "currency",
    "first_order_at",
    "last_order_at",
    "last_seen_at",
)


@lru_cache(maxsize=4)
def message_engine(*, autoescape: bool, debug: bool = False) -> Engine:
    """Return the engine that compiles message templates."""
    return Engine(
        app_dirs=True,
        debug=debug,
        builtins=[LIBRARY],
        autoescape=autoescape,
        string_if_invalid="",
    )


@lru_cache(maxsize=512)
def compile_source(source: str, autoescape: bool) -> Template:
    """Compile ``source`` once per process; raise TemplateSyntaxError."""
    return message_engine(autoescape=autoescape).from_string(source)


def is_html_field(channel: str, field_name: str) -> bool:
    return field_name == "body" and channel in HTML_CHANNELS


def render_source(source: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Render template text with ``context``; an empty source renders empty."""
    if not source:
        return ""
    return compile_source(source, html).render(Context(context, autoescape=html))


def template_errors(message_template: MessageTemplate) -> dict[str, list[Any]]:
    """Return the syntax and loading errors of each template field, with lines."""
    errors: dict[str, list[Any]] = {}
    from omnichannel.channels.models import TEMPLATE_FIELDS

    for field_name in TEMPLATE_FIELDS:
        source = getattr(message_template, field_name) or ""
        if not source:
            continue
        html = is_html_field(message_template.channel, field_name)
        message = source_error(source, html)
        if message:
            errors[field_name] = [message]
    return errors


def source_error(source: str, html: bool) -> Any:
    """Return the syntax or loading error of template text, with its line, or None."""
    engine = message_engine(autoescape=html, debug=True)
    try:
        compiled = engine.from_string(source)
    except TemplateSyntaxError as error:
        line = getattr(error, "template_debug", {}).get("line", "?")
        return _("Line %(line)s: %(error)s") % {"line": line, "error": error}
    try:
        # Includes and extends are resolved only when rendering.
        compiled.render(Context({}, autoescape=html))
    except TemplateDoesNotExist as error:
        return _("Template %(name)s does not exist.") % {"name": error}
    except TemplateSyntaxError as error:
        line = getattr(error, "template_debug", {}).get("line", "?")
        return _("Line %(line)s: %(error)s") % {"line": line, "error": error}
    except Exception as error:  # noqa: BLE001 - reported to the editor, not raised
        return _("The template cannot render: %(error)s") % {"error": error}
    return None


@dataclass
class Personalisation:
    """Data that a batch of recipients needs beyond their profile rows."""

    recommendations: dict[int, list[Product]] = field(default_factory=dict)
    segments: dict[int, frozenset[str]] = field(default_factory=dict)
    tracking: frozenset[int] = frozenset()


def prefetch(
    profiles: Sequence[Profile],
    *,
    recommendation_count: int = 0,
    at: datetime | None = None,
) -> Personalisation:
    """Fetch segments, tracking consent and recommendations of ``profiles``.

    It costs at most five queries whatever the number of profiles.
    """
    at = at or timezone.now()
    ids = [profile.pk for profile in profiles]
    if not ids:
        return Personalisation()
    recommendations: dict[int, list[Product]] = {}
    if recommendation_count:
        recommendations = get_recommender().recommend(ids, recommendation_count, at=at)
    return Personalisation(
        recommendations=recommendations,
        segments=current_segments(ids),
        tracking=tracking_consents(ids, at),
    )


def current_segments(profile_ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """Return the slugs of the segments each profile is in now, in one query."""
    # Looked up through the app registry: channels read memberships without
    # depending on the segments package's code.
    membership = apps.get_model("omnichannel", "SegmentMembership")
    found: dict[int, set[str]] = defaultdict(set)
    rows = membership.objects.filter(
        profile_id__in=profile_ids, exited_at__isnull=True, segment__is_active=True
    ).values_list("profile_id", "segment__slug")
    for profile_id, slug in rows:
        found[profile_id].add(slug)
    return {pk: frozenset(found.get(pk, ())) for pk in profile_ids}


def tracking_consents(profile_ids: Sequence[int], at: datetime) -> frozenset[int]:
    """Return the profiles whose latest tracking consent at ``at`` is a grant."""
    latest: dict[int, bool] = {}
    rows = (
        ConsentRecord.objects.filter(
            profile_id__in=profile_ids,
            channel=Channel.TRACKING,
            purpose=Purpose.MARKETING,
            recorded_at__lte=at,
        )
        .order_by("profile_id", "recorded_at", "id")
        .values_list("profile_id", "granted")
    )
    for profile_id, granted in rows:
        latest[profile_id] = granted
    return frozenset(pk for pk, granted in latest.items() if granted)


def profile_context(profile: Profile) -> dict[str, Any]:
    """Return the fields of ``profile`` that templates may use."""
    values = {name: getattr(profile, name) for name in PROFILE_FIELDS}
    values["full_name"] = f"{profile.first_name} {profile.last_name}".strip()
    values["attributes"] = (
        profile.attributes if isinstance(profile.attributes, dict) else {}
    )
    values["tags"] = profile.tags if isinstance(profile.tags, list) else []
    values["id"] = profile.pk
    return values


def build_context(
    profile: Profile,
    personalisation: Personalisation,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the template context of one recipient.

    ``extra`` (such as a delivery's ``context``, with offer codes) may add names but
    never replaces ``profile``, ``segments`` or ``recommendations``.
    """
    values = profile_context(profile)
    context: dict[str, Any] = dict(extra or {})
    context.update(
        profile=values,
        first_name=values["first_name"],
        last_name=values["last_name"],
        segments=personalisation.segments.get(profile.pk, frozenset()),
        recommendations=[
            product.as_context()
            for product in personalisation.recommendations.get(profile.pk, [])
        ],
        site_url=app_settings.SITE_URL.rstrip("/"),
    )
    if profile.pk is not None:
        from omnichannel.consent.unsubscribe import (
            preference_centre_url,
            unsubscribe_url,
        )

        # Signed links of this recipient, for the footer of marketing email. A
        # test send gives placeholders instead, so staff cannot unsubscribe them.
        # Signing costs more than rendering a short message, so a link is signed
        # only when the message reads it.
        if "unsubscribe_url" not in context:
            context["unsubscribe_url"] = SimpleLazyObject(
                partial(unsubscribe_url, profile)
            )
        if "preferences_url" not in context:
            context["preferences_url"] = SimpleLazyObject(
                partial(preference_centre_url, profile)
            )
    return context
