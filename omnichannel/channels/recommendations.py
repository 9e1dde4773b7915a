"""Product recommendations per recipient, fetched for a whole batch at once.

The recommender is named by the ``RECOMMENDER`` setting. Its ``recommend`` method
receives every profile id of a batch and returns their products in a number of
queries that does not depend on the batch size.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.profiles.models import Event

# Catalogue statistics (best sellers, bought together) are computed from every
# order of the window, so they are cached for this many seconds per recommender.
STATS_TTL_SECONDS = 300
# Products per category and per product kept in the catalogue statistics.
STATS_DEPTH = 20


@dataclass(frozen=True)
class Product:
    """One recommended product, as templates see it."""

    sku: str
    name: str
    category: str = ""
    price: str = ""
    url: str = ""
    image_url: str = ""
    reason: str = ""

    def as_context(self) -> dict[str, str]:
        return {
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "price": self.price,
            "url": self.url,
            "image_url": self.image_url,
            "reason": self.reason,
        }


class BaseRecommender:
    """Override ``recommend``; it must not issue one query per profile."""

    def recommend(
        self, profile_ids: Sequence[int], limit: int, *, at: datetime | None = None
    ) -> dict[int, list[Product]]:
        raise NotImplementedError


@dataclass
class _Stats:
    computed_at: float
    products: dict[str, Product]
    best_sellers: dict[str, list[str]]
    bought_together: dict[str, list[str]]


def _product_from(properties: Mapping[str, Any], reason: str = "") -> Product | None:
    sku = str(properties.get("sku") or "").strip()
    if not sku:
        return None
    price = properties.get("price", properties.get("unit_price", ""))
    return Product(
        sku=sku,
        name=str(properties.get("name") or sku),
        category=str(properties.get("category") or ""),
        price="" if price in (None, "") else str(price),
        url=str(properties.get("url") or ""),
        image_url=str(properties.get("image_url") or properties.get("image") or ""),
        reason=reason,
    )


def _order_lines(properties: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    lines = properties.get("lines")
    if not isinstance(lines, list):
        return []
    return [line for line in lines if isinstance(line, Mapping)]


class EventLogRecommender(BaseRecommender):
    """Recommend from the Event log: recently viewed, bought together, best sellers.

    Each profile gets, in this order, the products it viewed (latest first), the
    products often bought with what it bought or viewed, and the best sellers of
    the categories it browsed, then of the whole shop. Repeats and products it
    already bought are left out. It reads ``product_viewed`` events (``sku``,
    ``name``, ``category``, ``price``, ``url``, ``image_url``) and the ``lines`` of
    ``order_placed`` events.
    A batch costs two queries, plus one while the catalogue statistics are stale.
    """

    def __init__(self) -> None:
        self._stats: _Stats | None = None

    def recommend(
        self, profile_ids: Sequence[int], limit: int, *, at: datetime | None = None
    ) -> dict[int, list[Product]]:
        result: dict[int, list[Product]] = {pk: [] for pk in profile_ids}
        if limit <= 0 or not profile_ids:
            return result
        at = at or timezone.now()
        since = at - app_settings.RECOMMENDATION_WINDOW
        stats = self._catalogue(since, at)

        viewed: dict[int, list[Product]] = defaultdict(list)
        browsed: dict[int, Counter[str]] = defaultdict(Counter)
        for profile_id, name, properties in (
            Event.objects.filter(
                profile_id__in=profile_ids,
                name__in=("product_viewed", "category_viewed"),
                occurred_at__gte=since,
                occurred_at__lte=at,
            )
            .order_by("-occurred_at", "-id")
            .values_list("profile_id", "name", "properties")
        ):
            if not isinstance(properties, Mapping):
                continue
            category = str(properties.get("category") or "")
            if category:
                browsed[profile_id][category] += 1
            if name == "product_viewed":
                product = _product_from(properties, "recently_viewed")
                if product is not None:
                    viewed[profile_id].append(product)

        bought: dict[int, set[str]] = defaultdict(set)
        for profile_id, properties in Event.objects.filter(
            profile_id__in=profile_ids, name="order_placed"
        ).values_list("profile_id", "properties"):
            if not isinstance(properties, Mapping):
                continue
            for line in _order_lines(properties):
                sku = str(line.get("sku") or "")
                if sku:
                    bought[profile_id].add(sku)
                category = str(line.get("category") or "")
                if category:
                    browsed[profile_id][category] += 1

        for profile_id in profile_ids:
            result[profile_id] = self._pick(
                limit,
                stats,
                viewed.get(profile_id, []),
                bought.get(profile_id, set()),
                browsed.get(profile_id, Counter()),
            )
        return result

    def _pick(
        self,
        limit: int,
        stats: _Stats,
        viewed: list[Product],
        bought: set[str],
        browsed: Counter[str],
    ) -> list[Product]:
        chosen: list[Product] = []
        seen = set(bought)

        def offer(product: Product | None, reason: str) -> bool:
            """Add ``product`` unless it is known; return whether the list is full."""
            if product is not None and product.sku not in seen:
                seen.add(product.sku)
                known = stats.products.get(product.sku)
                if known is not None and not product.url:
                    product = known
                if product.reason != reason:
                    product = replace(product, reason=reason)
                chosen.append(product)
            return len(chosen) >= limit

        for product in viewed:
            if offer(product, "recently_viewed"):
                return chosen
        seeds = [*sorted(bought), *(product.sku for product in viewed)]
        for seed in seeds:
            for sku in stats.bought_together.get(seed, []):
                if offer(stats.products.get(sku), "bought_together"):
                    return chosen
        categories = [category for category, _count in browsed.most_common()]
        for category in [*categories, ""]:
            for sku in stats.best_sellers.get(category, []):
                if offer(stats.products.get(sku), "best_seller"):
                    return chosen
        return chosen

    def _catalogue(self, since: datetime, at: datetime) -> _Stats:
        if (
            self._stats is not None
            and time.monotonic() - self._stats.computed_at < STATS_TTL_SECONDS
        ):
            return self._stats
        products: dict[str, Product] = {}
        sales: dict[str, Counter[str]] = defaultdict(Counter)
        pairs: dict[str, Counter[str]] = defaultdict(Counter)
        orders = Event.objects.filter(
            name="order_placed", occurred_at__gte=since, occurred_at__lte=at
        ).values_list("properties", flat=True)
        for properties in orders.iterator(chunk_size=2000):
            if not isinstance(properties, Mapping):
                continue
            skus = self._count_order(_order_lines(properties), products, sales)
            for sku in skus:
                for other in skus:
                    if other != sku:
                        pairs[sku][other] += 1
        self._stats = _Stats(
            computed_at=time.monotonic(),
            products=products,
            best_sellers={
                category: [sku for sku, _n in counts.most_common(STATS_DEPTH)]
                for category, counts in sales.items()
            },
            bought_together={
                sku: [other for other, _n in counts.most_common(STATS_DEPTH)]
                for sku, counts in pairs.items()
            },
        )
        return self._stats

    @staticmethod
    def _count_order(
        lines: Iterable[Mapping[str, Any]],
        products: dict[str, Product],
        sales: dict[str, Counter[str]],
    ) -> list[str]:
        skus = []
        for line in lines:
            product = _product_from(line)
            if product is None:
                continue
            products.setdefault(product.sku, product)
            try:
                quantity = max(int(line.get("quantity") or 1), 1)
            except (TypeError, ValueError):
                quantity = 1
            sales[product.category][product.sku] += quantity
            if product.category:
                sales[""][product.sku] += quantity
            skus.append(product.sku)
        return sorted(set(skus))


def get_recommender() -> BaseRecommender:
    """Return the recommender named by ``RECOMMENDER``, one instance per process."""
    path = app_settings.RECOMMENDER
    cached = _instances.get(path)
    if cached is None:
        cached = _instances[path] = app_settings.import_path("RECOMMENDER")()
    return cached


_instances: dict[str, BaseRecommender] = {}


def reset_recommenders() -> None:
    """Forget the cached recommender instances and their statistics."""
    _instances.clear()
