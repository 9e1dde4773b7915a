"""What an agent needs to know about a customer, gathered from the profile.

Scores, consents and journey runs are read through the profile's reverse
relations, so this module imports only the profiles and segments domains. The
result contains plain values (datetimes, strings, numbers), shared by the console's
templates and the context endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Exists, OuterRef

from omnichannel.conf import app_settings
from omnichannel.profiles.models import Event, Profile
from omnichannel.segments.models import SegmentMembership

RECENT_ORDER_COUNT = 5
ORDER_STATUS_EVENTS = ("order_paid", "order_cancelled", "order_refunded")


def _money(amount: Any, currency: str) -> dict[str, str]:
    return {
        "amount": str(amount if amount is not None else "0.00"),
        "currency": currency,
    }


def _currency(profile: Profile) -> str:
    return profile.currency or app_settings.DEFAULT_CURRENCY


SCORE_RELATIONS = ("rfm", "prediction")


def with_scores(profile: Profile) -> Profile:
    """Return ``profile`` with its RFM score and prediction loaded in one query.

    A profile that has both relations cached already is returned as it is.
    """
    cached = profile._state.fields_cache
    if all(name in cached for name in SCORE_RELATIONS):
        return profile
    loaded = (
        Profile.objects.select_related(*SCORE_RELATIONS).filter(pk=profile.pk).first()
    )
    if loaded is None:
        return profile
    for name in SCORE_RELATIONS:
        cached[name] = loaded._state.fields_cache.get(name)
    return profile


def rfm_of(profile: Profile) -> dict[str, Any] | None:
    score = getattr(profile, "rfm", None)
    if score is None:
        return None
    return {
        "group": score.group,
        "label": str(score.get_group_display()),
        "code": score.code,
        "scored_at": score.scored_at,
    }


def churn_risk_of(profile: Profile) -> float | None:
    """Return the predicted churn risk (0 to 1), or None when not scored."""
    prediction = getattr(profile, "prediction", None)
    risk = getattr(prediction, "churn_risk", None)
    return float(risk) if risk is not None else None


def recent_orders(profile: Profile, count: int = RECENT_ORDER_COUNT) -> list[dict]:
    """Return the latest orders from the event log, newest first, with status.

    One query: each order's paid, cancelled and refunded events are read as
    EXISTS columns of the same SELECT.
    """
    flags = {
        f"has_{name}": Exists(
            Event.objects.filter(
                profile=profile,
                name=name,
                object_type="order",
                object_id=OuterRef("object_id"),
            )
        )
        for name in ORDER_STATUS_EVENTS
    }
    events = list(
        Event.objects.filter(profile=profile, name="order_placed")
        .annotate(**flags)
        .order_by("-occurred_at", "-id")[:count]
    )

    orders = []
    for event in events:
        status = "placed"
        for name, label in (
            ("order_paid", "paid"),
            ("order_cancelled", "cancelled"),
            ("order_refunded", "refunded"),
        ):
            # An order without a number cannot be matched to its status events.
            if event.object_id and getattr(event, f"has_{name}"):
                status = label
        lines = event.properties.get("lines") or []
        orders.append(
            {
                "order_id": event.object_id,
                "placed_at": event.occurred_at,
                "total": _money(event.revenue, event.currency or _currency(profile)),
                "status": status,
                "lines": [_line(line) for line in lines if isinstance(line, dict)],
            }
        )
    return orders


def _line(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku": str(line.get("sku", "")),
        "name": str(line.get("name", "")),
        "quantity": line.get("quantity", 1),
        "unit_price": str(line.get("unit_price", "")),
    }


def open_cart(profile: Profile) -> dict[str, Any] | None:
    """Return the latest cart change whose cart has not become an order."""
    converted = Event.objects.filter(
        name="cart_converted",
        object_type="cart",
        object_id=OuterRef("object_id"),
    )
    event = (
        Event.objects.filter(profile=profile, name="cart_updated", object_type="cart")
        .exclude(Exists(converted))
        .order_by("-occurred_at", "-id")
        .first()
    )
    if event is None:
        return None
    properties = event.properties
    lines = properties.get("lines") or []
    return {
        "cart_id": event.object_id,
        "updated_at": event.occurred_at,
        "total": _money(
            properties.get("total"), properties.get("currency") or _currency(profile)
        ),
        "item_count": properties.get("item_count", len(lines)),
        "lines": [_line(line) for line in lines if isinstance(line, dict)],
    }


def segments_of(profile: Profile) -> list[dict[str, Any]]:
    memberships = (
        SegmentMembership.objects.filter(profile=profile, exited_at__isnull=True)
        .select_related("segment")
        .order_by("segment__name")
    )
    return [
        {
            "slug": membership.segment.slug,
            "name": membership.segment.name,
            "entered_at": membership.entered_at,
        }
        for membership in memberships
    ]


def journeys_of(profile: Profile) -> list[dict[str, Any]]:
    """Return the journey runs in progress."""
    enrollments = getattr(profile, "journey_enrollments", None)
    if enrollments is None:
        return []
    return [
        {
            "journey": enrollment.journey.slug,
            "name": enrollment.journey.name,
            "current_step": enrollment.current_step,
            "entered_at": enrollment.entered_at,
            "next_run_at": enrollment.next_run_at,
        }
        for enrollment in enrollments.filter(status="active")
        .select_related("journey")
        .order_by("entered_at")
    ]


def consents_of(profile: Profile) -> list[dict[str, Any]]:
    """Return the current consent per channel and purpose: the latest ledger row."""
    records = getattr(profile, "consent_records", None)
    if records is None:
        return []
    current: dict[tuple[str, str], Any] = {}
    for record in records.order_by("-recorded_at", "-id"):
        current.setdefault((record.channel, record.purpose), record)
    return [
        {
            "channel": record.channel,
            "purpose": record.purpose,
            "granted": record.granted,
            "recorded_at": record.recorded_at,
            "source": record.source,
        }
        for (_channel, _purpose), record in sorted(current.items())
    ]


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def vip_reasons(
    profile: Profile, rfm: dict | None, segments: Iterable[dict]
) -> list[str]:
    """Return why the customer counts as a VIP (empty when they do not).

    A customer is a VIP by RFM group (``VIP_RFM_GROUPS``), by membership of a
    segment in ``VIP_SEGMENTS``, or by a lifetime value of at least
    ``VIP_MIN_LIFETIME_VALUE``.
    """
    reasons = []
    if rfm is not None and rfm["group"] in app_settings.VIP_RFM_GROUPS:
        reasons.append(f"rfm:{rfm['group']}")
    vip_segments = set(app_settings.VIP_SEGMENTS)
    reasons += [
        f"segment:{segment['slug']}"
        for segment in segments
        if segment["slug"] in vip_segments
    ]
    threshold = _decimal(app_settings.VIP_MIN_LIFETIME_VALUE)
    if threshold is not None and profile.total_spent >= threshold:
        reasons.append("lifetime_value")
    return reasons


def customer_context(profile: Profile) -> dict[str, Any]:
    """Return the customer's value, orders, cart, segments, journeys and consents."""
    currency = _currency(profile)
    scored = with_scores(profile)
    rfm = rfm_of(scored)
    segments = segments_of(profile)
    reasons = vip_reasons(profile, rfm, segments)
    name = f"{profile.first_name} {profile.last_name}".strip()
    return {
        "profile": {
            "uuid": str(profile.uuid),
            "name": name,
            "email": profile.email,
            "phone": profile.phone,
            "customer_since": profile.created_at,
            "last_seen_at": profile.last_seen_at,
            "is_anonymous": profile.is_anonymous,
        },
        "lifetime_value": _money(profile.total_spent, currency),
        "order_count": profile.order_count,
        "average_order_value": _money(profile.average_order_value, currency),
        "first_order_at": profile.first_order_at,
        "last_order_at": profile.last_order_at,
        "rfm": rfm,
        "churn_risk": churn_risk_of(scored),
        "is_vip": bool(reasons),
        "vip_reasons": reasons,
        "recent_orders": recent_orders(profile),
        "open_cart": open_cart(profile),
        "segments": segments,
        "journeys": journeys_of(profile),
        "consents": consents_of(profile),
    }
