"""Order aggregates of profiles, computed from the Event log."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connections, models
from django.db.models import Count, Exists, Max, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Cast, Coalesce

from omnichannel.profiles.events import ORDER_EVENT
from omnichannel.profiles.models import Event, Profile

ORDER_REVERSAL_EVENTS = ("order_cancelled", "order_refunded")
AGGREGATE_EVENTS = (ORDER_EVENT, *ORDER_REVERSAL_EVENTS)


def counted_orders() -> models.QuerySet[Event]:
    """Return order events that no cancellation or refund event reverses."""
    reversal = Event.objects.filter(
        profile=OuterRef("profile"),
        name__in=ORDER_REVERSAL_EVENTS,
        object_type=OuterRef("object_type"),
        object_id=OuterRef("object_id"),
    )
    return Event.objects.filter(name=ORDER_EVENT).exclude(Exists(reversal))


def recompute_aggregates(profile_ids: Iterable[int] | None = None) -> int:
    """Recompute order aggregates from the Event log in one UPDATE; return the rows.

    ``None`` recomputes every profile.
    """
    orders = counted_orders().filter(profile=OuterRef("pk")).order_by()

    def aggregate(expression: Any) -> Subquery:
        return Subquery(
            orders.values("profile").annotate(value=expression).values("value")[:1]
        )

    zero = models.Value(Decimal("0"), output_field=models.DecimalField())
    queryset = Profile.objects.all()
    if profile_ids is not None:
        queryset = queryset.filter(pk__in=list(profile_ids))
    updated = queryset.update(
        order_count=Coalesce(aggregate(Count("id")), 0),
        total_spent=Coalesce(aggregate(Sum("revenue")), zero),
        first_order_at=aggregate(Min("occurred_at")),
        last_order_at=aggregate(Max("occurred_at")),
    )
    total: Any = models.F("total_spent")
    if connections[queryset.db].vendor == "sqlite":
        # SQLite stores a whole total_spent as an integer and divides it as one.
        total = Cast(total, models.FloatField())
    queryset.filter(order_count__gt=0).update(
        average_order_value=models.ExpressionWrapper(
            total / models.F("order_count"),
            output_field=models.DecimalField(max_digits=14, decimal_places=2),
        )
    )
    queryset.filter(order_count=0).update(average_order_value=zero)
    return updated
