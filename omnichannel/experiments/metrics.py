"""Metrics per arm of an experiment, read from assignments and the Event log.

Denominators follow intent to treat: every profile assigned to an arm counts as a
recipient of that arm, whether or not its message was later sent, so that a variant
which is suppressed more often cannot look better for it. Open and click-through
rates are unique profiles over profiles delivered. Conversions are the assigned
profiles with an order (not cancelled or refunded) within the experiment's
conversion window after their assignment, on any channel.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    ExpressionWrapper,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from omnichannel.db import stream
from omnichannel.experiments.models import Experiment, Variant
from omnichannel.experiments.services import HOLDOUT_KEY
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import counted_orders

Metric = Experiment.Metric
CENT = Decimal("0.01")
RATE_METRICS = (Metric.CONVERSION_RATE, Metric.CLICK_RATE, Metric.OPEN_RATE)

# Event names that count as each step, by what the experiment tests.
MESSAGE_EVENTS = {
    "sent": ("message_sent",),
    "delivered": ("message_delivered",),
    "opened": ("message_opened",),
    "clicked": ("message_clicked",),
}
PLACEMENT_EVENTS = {
    "sent": ("banner_viewed", "popup_viewed"),
    "delivered": ("banner_viewed", "popup_viewed"),
    "clicked": ("banner_clicked", "popup_submitted"),
}


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class ArmMetrics:
    """Counts and rates of one arm; ``variant`` is None for the holdout group."""

    key: str
    name: str
    variant: Variant | None
    is_control: bool = False
    weight: int = 0
    assigned: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int | None = 0
    clicked: int = 0
    converted: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0")
    revenue_squares: float = 0.0

    @property
    def is_holdout(self) -> bool:
        return self.variant is None

    @property
    def open_rate(self) -> float | None:
        return None if self.opened is None else _ratio(self.opened, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return _ratio(self.clicked, self.delivered)

    @property
    def conversion_rate(self) -> float | None:
        return _ratio(self.converted, self.assigned)

    @property
    def revenue_per_recipient(self) -> float | None:
        return _ratio(float(self.revenue), self.assigned)

    def value(self, metric: str) -> float | None:
        return getattr(self, metric)

    def counts(self, metric: str) -> tuple[int, int]:
        """Return (successes, trials) of a rate metric."""
        if metric == Metric.CONVERSION_RATE:
            return self.converted, self.assigned
        if metric == Metric.CLICK_RATE:
            return self.clicked, self.delivered
        if metric == Metric.OPEN_RATE:
            return self.opened or 0, self.delivered
        raise ValueError(f"{metric!r} is not a rate metric.")


@dataclass
class Comparison:
    """One arm measured against a reference arm on one metric."""

    metric: str
    arm: str
    reference: str
    reference_value: float | None = None
    value: float | None = None
    difference: float | None = None
    relative_lift: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    probability_to_beat: float | None = None
    significant: bool = False
    note: str = ""

    @property
    def better(self) -> bool:
        return self.significant and (self.difference or 0) > 0

    @property
    def worse(self) -> bool:
        return self.significant and (self.difference or 0) < 0


@dataclass
class ExperimentResults:
    """Everything the results page and winner promotion need."""

    experiment: Experiment
    arms: list[ArmMetrics]
    alpha: float
    adjusted_alpha: float
    comparisons: list[Comparison] = field(default_factory=list)
    holdout_comparisons: list[Comparison] = field(default_factory=list)
    sample_size_per_arm: int | None = None
    sample_ratio_p_value: float | None = None

    @property
    def control(self) -> ArmMetrics | None:
        return next((arm for arm in self.arms if arm.is_control), None)

    @property
    def holdout(self) -> ArmMetrics | None:
        return next((arm for arm in self.arms if arm.is_holdout), None)

    def arm(self, key: str) -> ArmMetrics:
        return next(arm for arm in self.arms if arm.key == key)

    def primary(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.metric == self.experiment.metric]


def collect_arms(experiment: Experiment) -> list[ArmMetrics]:
    """Count assignments, message or placement events and orders for every arm."""
    variants = list(experiment.variants.order_by("id"))
    arms: dict[str, ArmMetrics] = {
        variant.key: ArmMetrics(
            key=variant.key,
            name=variant.name or variant.key,
            variant=variant,
            is_control=variant.is_control,
            weight=variant.weight,
        )
        for variant in variants
    }
    holdout = ArmMetrics(key=HOLDOUT_KEY, name="holdout", variant=None)
    by_id = {variant.pk: arms[variant.key] for variant in variants}

    _count_orders(experiment, by_id, holdout)
    _count_events(experiment, arms)
    result = list(arms.values())
    if experiment.holdout_share > 0 or holdout.assigned:
        result.append(holdout)
    return result


def _count_orders(
    experiment: Experiment, by_id: dict[int, ArmMetrics], holdout: ArmMetrics
) -> None:
    window_end = ExpressionWrapper(
        OuterRef("assigned_at") + Value(experiment.conversion_window),
        output_field=DateTimeField(),
    )
    orders = (
        counted_orders()
        .filter(
            profile=OuterRef("profile"),
            occurred_at__gte=OuterRef("assigned_at"),
            occurred_at__lte=window_end,
        )
        .order_by()
        .values("profile")
    )
    rows = experiment.assignments.annotate(
        order_count=Coalesce(
            Subquery(orders.annotate(n=Count("id")).values("n")[:1]), Value(0)
        ),
        order_revenue=Subquery(
            orders.annotate(total=Sum("revenue")).values("total")[:1]
        ),
    ).values_list("variant_id", "order_count", "order_revenue")

    for variant_id, order_count, revenue in stream(rows, 5000):
        arm = by_id.get(variant_id, holdout) if variant_id else holdout
        arm.assigned += 1
        if order_count:
            amount = Decimal(str(revenue or 0)).quantize(CENT)
            arm.converted += 1
            arm.orders += order_count
            arm.revenue += amount
            arm.revenue_squares += float(amount) ** 2


def _count_events(experiment: Experiment, arms: dict[str, ArmMetrics]) -> None:
    if experiment.target == Experiment.Target.PLACEMENT:
        steps: dict[str, tuple[str, ...]] = PLACEMENT_EVENTS
        for arm in arms.values():
            arm.opened = None
    else:
        steps = MESSAGE_EVENTS
    names = sorted({name for group in steps.values() for name in group})
    rows = (
        Event.objects.filter(name__in=names, properties__experiment_id=experiment.pk)
        .values("name", "properties__variant")
        .annotate(profiles=Count("profile", distinct=True))
        .order_by()
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        counts[(str(row["properties__variant"]), row["name"])] += row["profiles"]
    for key, arm in arms.items():
        for step, group in steps.items():
            # NOTE: a profile that saw both a banner and a pop-up of one arm counts
            # twice. Placements usually show only one of the two per experiment.
            setattr(arm, step, sum(counts[(key, name)] for name in group))


def arm_table(results: ExperimentResults) -> list[dict[str, Any]]:
    """Return one row per arm with counts and rates, for tables and CSV export."""
    rows = []
    for arm in results.arms:
        rows.append(
            {
                "arm": arm.key,
                "control": arm.is_control,
                "weight": arm.weight,
                "assigned": arm.assigned,
                "sent": arm.sent,
                "delivered": arm.delivered,
                "opened": arm.opened,
                "clicked": arm.clicked,
                "open_rate": arm.open_rate,
                "click_rate": arm.click_rate,
                "converted": arm.converted,
                "conversion_rate": arm.conversion_rate,
                "orders": arm.orders,
                "revenue": arm.revenue,
                "revenue_per_recipient": arm.revenue_per_recipient,
            }
        )
    return rows
