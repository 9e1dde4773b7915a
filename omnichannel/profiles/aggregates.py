"""Order aggregates of profiles, computed from the Event log."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.db.models import Count, Exists, Max, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

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
    if connection.vendor == "postgresql":
        return _recompute_on_postgresql(
            None if profile_ids is None else list(profile_ids)
        )
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
    queryset.filter(order_count__gt=0).update(
        average_order_value=models.ExpressionWrapper(
            models.F("total_spent") / models.F("order_count"),
            output_field=models.DecimalField(max_digits=14, decimal_places=2),
        )
    )
    queryset.filter(order_count=0).update(average_order_value=zero)
    return updated


def _recompute_on_postgresql(profile_ids: list[int] | None) -> int:
    # The same figures as the portable UPDATE above, in one grouped pass over the
    # order events instead of four correlated subqueries per profile: an import
    # of a million customers spent a third of its time there.
    profile_table = connection.ops.quote_name(Profile._meta.db_table)
    event_table = connection.ops.quote_name(Event._meta.db_table)
    only_ids = "" if profile_ids is None else "WHERE id = ANY(%(ids)s)"
    only_events = "" if profile_ids is None else "AND e.profile_id = ANY(%(ids)s)"
    sql = f"""
        UPDATE {profile_table} AS p
        SET order_count = coalesce(s.orders, 0),
            total_spent = coalesce(s.spent, 0),
            first_order_at = s.first_at,
            last_order_at = s.last_at,
            average_order_value = CASE WHEN coalesce(s.orders, 0) > 0
                THEN coalesce(s.spent, 0) / s.orders ELSE 0 END
        FROM (
            SELECT t.id, o.orders, o.spent, o.first_at, o.last_at
            FROM (SELECT id FROM {profile_table} {only_ids}) AS t
            LEFT JOIN (
                SELECT e.profile_id, count(*) AS orders, sum(e.revenue) AS spent,
                       min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at
                FROM {event_table} AS e
                WHERE e.name = %(order)s {only_events}
                  AND NOT EXISTS (
                      SELECT 1 FROM {event_table} AS r
                      WHERE r.profile_id = e.profile_id
                        AND r.name = ANY(%(reversals)s)
                        AND r.object_type = e.object_type
                        AND r.object_id = e.object_id
                  )
                GROUP BY e.profile_id
            ) AS o ON o.profile_id = t.id
        ) AS s
        WHERE p.id = s.id
    """
    parameters = {
        "ids": profile_ids,
        "order": ORDER_EVENT,
        "reversals": list(ORDER_REVERSAL_EVENTS),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return cursor.rowcount
