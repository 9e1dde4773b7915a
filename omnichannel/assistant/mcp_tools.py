"""Read-only views of the app's data for the MCP server, as JSON-ready dicts.

Each function validates its arguments (raising InvalidRequest with the field) and
returns plain values. Personal fields are masked unless ``SEND_CUSTOMER_DATA`` is
on; searching by a full email address or phone number still works.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Q
from django.utils import timezone

from omnichannel.assistant.exceptions import InvalidRequest
from omnichannel.assistant.privacy import mask_record, mask_value
from omnichannel.assistant.settings import setting
from omnichannel.conversations.customer import customer_context
from omnichannel.experiments.models import Experiment
from omnichannel.profiles.models import Profile
from omnichannel.segments.models import Segment, SegmentMembership

MAX_QUERY_LENGTH = 200


def plain(value: Any) -> Any:
    """Turn datetimes, decimals and UUIDs into JSON strings, recursively."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _limit(value: Any, name: str = "limit") -> int:
    maximum = int(setting("MCP_MAX_ROWS"))
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= maximum
    ):
        raise InvalidRequest(
            name, f"{value!r} is invalid; use a whole number from 1 to {maximum}."
        )
    return value


def _summary(profile: Profile) -> dict[str, Any]:
    record = {
        "customer_id": str(profile.uuid),
        "name": f"{profile.first_name} {profile.last_name}".strip(),
        "email": profile.email,
        "phone": profile.phone,
        "order_count": profile.order_count,
        "lifetime_value": str(profile.total_spent),
        "currency": profile.currency,
        "last_order_at": profile.last_order_at,
    }
    return plain(mask_record(record))


def find_customers(query: str, limit: int = 10) -> dict[str, Any]:
    """Find customers by email, phone, name or customer id (UUID)."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest(
            "query", "Enter an email address, phone number, name or customer id."
        )
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidRequest(
            "query", f"The query is longer than {MAX_QUERY_LENGTH} characters."
        )
    limit = _limit(limit)
    text = query.strip()
    condition = Q(email__iexact=text) | Q(phone=text)
    try:
        condition |= Q(uuid=uuid.UUID(text))
    except ValueError:
        pass
    parts = text.split()
    if len(parts) >= 2:
        condition |= Q(
            first_name__iexact=parts[0], last_name__iexact=" ".join(parts[1:])
        )
    elif "@" not in text:
        condition |= Q(first_name__iexact=text) | Q(last_name__iexact=text)
    profiles = Profile.objects.filter(condition).order_by("-last_order_at", "-id")[
        :limit
    ]
    results = [_summary(profile) for profile in profiles]
    return {"count": len(results), "customers": results}


def _profile(customer_id: str) -> Profile:
    try:
        key = uuid.UUID(str(customer_id))
    except ValueError:
        raise InvalidRequest(
            "customer_id", f"{customer_id!r} is not a customer id (a UUID)."
        ) from None
    profile = Profile.objects.filter(uuid=key).first()
    if profile is None:
        raise InvalidRequest("customer_id", f"No customer has the id {customer_id}.")
    return profile


def customer_360(customer_id: str) -> dict[str, Any]:
    """Return one customer's value, orders, cart, segments, journeys and consents."""
    context = customer_context(_profile(customer_id))
    context["profile"] = mask_record(context["profile"])
    return plain(context)


def segment_sizes() -> dict[str, Any]:
    """Return every active segment with its current number of members."""
    rows = (
        Segment.objects.filter(is_active=True)
        .annotate(
            size=Count("memberships", filter=Q(memberships__exited_at__isnull=True))
        )
        .order_by("name")
        .values("slug", "name", "description", "size", "last_rebuilt_at")
    )
    segments = plain(list(rows))
    return {"count": len(segments), "segments": segments}


def segment_members(slug: str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Return a page of a segment's current members, newest first."""
    segment = Segment.objects.filter(slug=slug).first()
    if segment is None:
        raise InvalidRequest(
            "slug", f"No segment has the slug {slug!r}; segment_sizes lists them."
        )
    limit = _limit(limit)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidRequest(
            "offset", f"{offset!r} is invalid; use a whole number from 0."
        )
    current = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    page = current.select_related("profile").order_by("-entered_at", "-id")[
        offset : offset + limit
    ]
    members = [
        {**_summary(membership.profile), "entered_at": plain(membership.entered_at)}
        for membership in page
    ]
    return {
        "segment": segment.slug,
        "size": current.count(),
        "offset": offset,
        "members": members,
    }


def journey_results(days: int = 30) -> dict[str, Any]:
    """Return each journey's entrants, sends, clicks, attributed orders and lift."""
    from django.apps import apps

    from omnichannel.analytics.journeys import journey_overview

    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise InvalidRequest(
            "days", f"{days!r} is invalid; use a whole number from 1 to 366."
        )
    end = timezone.now()
    start = end - timedelta(days=days)
    rows = journey_overview(start, end)
    journey_model = apps.get_model("omnichannel", "Journey")
    names = dict(journey_model.objects.values_list("id", "name"))
    slugs = dict(journey_model.objects.values_list("id", "slug"))
    for row in rows:
        row["journey"] = slugs.get(row["journey_id"], "")
        row["name"] = names.get(row["journey_id"], "")
    return plain({"from": start, "to": end, "journeys": rows})


def experiment_results(key: str = "") -> dict[str, Any]:
    """Return one A/B test's arms and comparisons, or every test's status."""
    from omnichannel.experiments.evaluation import experiment_results as compute
    from omnichannel.experiments.evaluation import find_winner
    from omnichannel.experiments.metrics import arm_table

    if not key:
        rows = Experiment.objects.order_by("-created_at").values(
            "key",
            "name",
            "status",
            "metric",
            "target",
            "target_ref",
            "started_at",
            "ended_at",
        )[: int(setting("MCP_MAX_ROWS"))]
        return plain({"experiments": list(rows)})
    experiment = Experiment.objects.filter(key=key).first()
    if experiment is None:
        raise InvalidRequest(
            "key",
            f"No experiment has the key {key!r}; call without a key to list them.",
        )
    results = compute(experiment)
    winner, reason = find_winner(results)
    comparisons = [
        {
            "metric": c.metric,
            "arm": c.arm,
            "reference": c.reference,
            "value": c.value,
            "reference_value": c.reference_value,
            "relative_lift": c.relative_lift,
            "p_value": c.p_value,
            "significant": c.significant,
        }
        for c in results.comparisons
    ]
    return plain(
        {
            "key": experiment.key,
            "name": experiment.name,
            "status": experiment.status,
            "metric": experiment.metric,
            "arms": arm_table(results),
            "comparisons": comparisons,
            "suggested_winner": winner.key if winner else None,
            "verdict": reason,
        }
    )


def masked_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Return tool arguments fit for the audit log: search terms masked."""
    if "query" in arguments and isinstance(arguments["query"], str):
        query = arguments["query"]
        field = "email" if "@" in query else "name"
        return {**arguments, "query": mask_value(field, query)}
    return arguments
