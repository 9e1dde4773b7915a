"""Impressions, clicks and click-through rates of banners, read from the Event log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.db.models.fields.json import KT

from omnichannel.profiles.models import Event

BANNER_EVENTS = ("banner_viewed", "banner_clicked")


def ratio(clicks: int, impressions: int) -> float | None:
    """Return clicks per impression, or None before the first impression."""
    return clicks / impressions if impressions else None


@dataclass
class VariantStats:
    """Counts of one banner for the visitors of one experiment arm."""

    variant: str
    impressions: int = 0
    clicks: int = 0

    @property
    def ctr(self) -> float | None:
        return ratio(self.clicks, self.impressions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "ctr": self.ctr,
        }


@dataclass
class BannerStats:
    """Counts of one banner, in total and per experiment arm."""

    banner_id: int
    impressions: int = 0
    clicks: int = 0
    variants: list[VariantStats] = field(default_factory=list)

    @property
    def ctr(self) -> float | None:
        return ratio(self.clicks, self.impressions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "impressions": self.impressions,
            "clicks": self.clicks,
            "ctr": self.ctr,
            "variants": [variant.as_dict() for variant in self.variants],
        }


def banner_counts(banner_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Return banner id -> (impressions, clicks) for many banners in one query."""
    ids = list(banner_ids)
    counts = dict.fromkeys(ids, (0, 0))
    if not ids:
        return counts
    rows = (
        Event.objects.filter(
            name__in=BANNER_EVENTS,
            object_type="banner",
            object_id__in=[str(pk) for pk in ids],
        )
        .values("object_id")
        .annotate(
            impressions=Count("pk", filter=Q(name="banner_viewed")),
            clicks=Count("pk", filter=Q(name="banner_clicked")),
        )
        .order_by()
    )
    for row in rows:
        counts[int(row["object_id"])] = (row["impressions"], row["clicks"])
    return counts


def banner_stats(banner: Any) -> BannerStats:
    """Return a banner's counts, with one line per experiment arm it was shown in."""
    rows = (
        Event.objects.filter(
            name__in=BANNER_EVENTS, object_type="banner", object_id=str(banner.pk)
        )
        .values(variant=KT("properties__variant"))
        .annotate(
            impressions=Count("pk", filter=Q(name="banner_viewed")),
            clicks=Count("pk", filter=Q(name="banner_clicked")),
        )
        .order_by("variant")
    )
    stats = BannerStats(banner_id=banner.pk)
    for row in rows:
        stats.impressions += row["impressions"]
        stats.clicks += row["clicks"]
        if row["variant"]:
            stats.variants.append(
                VariantStats(row["variant"], row["impressions"], row["clicks"])
            )
    return stats
