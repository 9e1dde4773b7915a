"""The segments that ``omnichannel_install_segments`` installs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnichannel.predictions.models import RFMGroup


@dataclass(frozen=True)
class DefaultSegment:
    slug: str
    name: str
    description: str
    rules: dict[str, Any]


def _no_event(name: str, days: int) -> dict[str, Any]:
    return {
        "type": "event",
        "event": name,
        "count": {"op": "eq", "value": 0},
        "within": {"value": days, "unit": "days"},
    }


def default_segments(
    *,
    vip_min_spent: float = 500,
    vip_min_orders: int = 3,
    lapsed_days: int = 90,
    lapsed_min_spent: float = 500,
    cart_days: int = 7,
) -> list[DefaultSegment]:
    """Return the default segments with the given thresholds (amounts in the
    shop's currency)."""
    segments = [
        DefaultSegment(
            slug=f"rfm-{group.value.replace('_', '-')}",
            name=f"RFM: {group.label}",
            description=f"Customers the nightly RFM scoring puts in {group.label}.",
            rules={"type": "rfm", "field": "group", "op": "eq", "value": group.value},
        )
        for group in RFMGroup
    ]
    segments.append(
        DefaultSegment(
            slug="vip",
            name="VIP",
            description=(
                f"Customers who spent at least {vip_min_spent} over at least "
                f"{vip_min_orders} orders."
            ),
            rules={
                "all": [
                    {
                        "type": "aggregate",
                        "measure": "total_spent",
                        "op": "gte",
                        "value": vip_min_spent,
                    },
                    {
                        "type": "aggregate",
                        "measure": "order_count",
                        "op": "gte",
                        "value": vip_min_orders,
                    },
                ]
            },
        )
    )
    segments.append(
        DefaultSegment(
            slug="cart-abandoners",
            name="Cart abandoners",
            description=(
                f"A cart changed in the last {cart_days} days but more than an hour "
                "ago, or marked abandoned, with no order and no converted cart in "
                "the same days."
            ),
            rules={
                "all": [
                    {
                        "any": [
                            {
                                "type": "event",
                                "event": "cart_updated",
                                "within": {"value": cart_days, "unit": "days"},
                                "excluding_last": {"value": 1, "unit": "hours"},
                            },
                            {
                                "type": "event",
                                "event": "cart_abandoned",
                                "within": {"value": cart_days, "unit": "days"},
                            },
                        ]
                    },
                    _no_event("cart_converted", cart_days),
                    _no_event("order_placed", cart_days),
                ]
            },
        )
    )
    segments.append(
        DefaultSegment(
            slug="lapsed-high-spenders",
            name="Lapsed high spenders",
            description=(
                f"Spent at least {lapsed_min_spent} but ordered nothing in the last "
                f"{lapsed_days} days."
            ),
            rules={
                "all": [
                    {
                        "type": "aggregate",
                        "measure": "total_spent",
                        "op": "gte",
                        "value": lapsed_min_spent,
                    },
                    {
                        "type": "aggregate",
                        "measure": "days_since_last_order",
                        "op": "gte",
                        "value": lapsed_days,
                    },
                ]
            },
        )
    )
    return segments
