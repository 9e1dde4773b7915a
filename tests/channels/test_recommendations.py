from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.channels.recommendations import (
    BaseRecommender,
    EventLogRecommender,
    get_recommender,
)
from omnichannel.channels.rendering import build_context, prefetch
from tests.factories import EventFactory, ProfileFactory


def order(profile, *lines, days_ago=1):
    EventFactory(
        profile=profile,
        name="order_placed",
        occurred_at=timezone.now() - timedelta(days=days_ago),
        properties={
            "lines": [
                {
                    "sku": sku,
                    "name": name,
                    "category": category,
                    "quantity": 1,
                    "unit_price": "9.90",
                }
                for sku, name, category in lines
            ]
        },
    )


def view(profile, sku, name, category, minutes_ago):
    EventFactory(
        profile=profile,
        name="product_viewed",
        occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
        properties={
            "sku": sku,
            "name": name,
            "category": category,
            "url": f"https://shop.example/p/{sku}",
        },
    )


MUG = ("MUG-042", "Mug", "kitchen")
TEA = ("TEA-001", "Tea", "kitchen")
POT = ("POT-007", "Teapot", "kitchen")
SOCKS = ("SOCK-1", "Socks", "clothes")
HAT = ("HAT-3", "Hat", "clothes")


@pytest.fixture
def catalogue(db):
    shoppers = ProfileFactory.create_batch(3)
    for shopper in shoppers:
        order(shopper, MUG, TEA)
    order(shoppers[0], POT)
    order(shoppers[1], POT)
    order(shoppers[2], SOCKS)
    order(shoppers[0], HAT)
    return shoppers


@pytest.mark.django_db
def test_recently_viewed_come_first_latest_first(catalogue):
    profile = ProfileFactory()
    view(profile, "SOCK-1", "Socks", "clothes", minutes_ago=30)
    view(profile, "HAT-3", "Hat", "clothes", minutes_ago=5)
    result = EventLogRecommender().recommend([profile.pk], 4)[profile.pk]
    assert [p.sku for p in result[:2]] == ["HAT-3", "SOCK-1"]
    assert result[0].reason == "recently_viewed"
    assert result[0].url == "https://shop.example/p/HAT-3"
    assert len(result) == 4


@pytest.mark.django_db
def test_bought_together_follows_purchases_and_skips_bought(catalogue):
    profile = ProfileFactory()
    order(profile, MUG)
    result = EventLogRecommender().recommend([profile.pk], 2)[profile.pk]
    assert [p.sku for p in result] == ["TEA-001", "POT-007"]
    assert result[0].reason == "bought_together"
    assert "MUG-042" not in [p.sku for p in result]


@pytest.mark.django_db
def test_best_sellers_of_browsed_category(catalogue):
    profile = ProfileFactory()
    EventFactory(
        profile=profile, name="category_viewed", properties={"category": "clothes"}
    )
    result = EventLogRecommender().recommend([profile.pk], 2)[profile.pk]
    assert {p.sku for p in result} == {"SOCK-1", "HAT-3"}
    assert all(p.reason == "best_seller" for p in result)


@pytest.mark.django_db
def test_new_customer_gets_shop_best_sellers(catalogue):
    profile = ProfileFactory()
    result = EventLogRecommender().recommend([profile.pk], 2)[profile.pk]
    assert [p.sku for p in result] == ["MUG-042", "TEA-001"]


@pytest.mark.django_db
def test_malformed_events_are_skipped(catalogue):
    profile = ProfileFactory()
    EventFactory(profile=profile, name="product_viewed", properties={"name": "no sku"})
    EventFactory(profile=profile, name="order_placed", properties={"lines": "oops"})
    result = EventLogRecommender().recommend([profile.pk], 3)[profile.pk]
    assert len(result) == 3


@pytest.mark.django_db
def test_recommendations_query_count_does_not_grow_with_batch(
    catalogue, django_assert_max_num_queries
):
    recommender = EventLogRecommender()
    small = ProfileFactory.create_batch(2)
    large = ProfileFactory.create_batch(60)
    for index, profile in enumerate(large):
        view(profile, f"SKU-{index}", f"Product {index}", "misc", minutes_ago=index + 1)
        order(profile, MUG)
    with django_assert_max_num_queries(3):
        recommender.recommend([p.pk for p in small], 4)
    with django_assert_max_num_queries(2):
        result = recommender.recommend([p.pk for p in large], 4)
    assert all(len(products) == 4 for products in result.values())


@pytest.mark.django_db
def test_prefetch_whole_batch_in_fixed_queries(
    catalogue, django_assert_max_num_queries
):
    profiles = ProfileFactory.create_batch(40)
    for profile in profiles:
        view(profile, "HAT-3", "Hat", "clothes", minutes_ago=1)
    with django_assert_max_num_queries(5):
        data = prefetch(profiles, recommendation_count=4)
        contexts = [build_context(profile, data) for profile in profiles]
    assert all(len(context["recommendations"]) == 4 for context in contexts)
    assert contexts[0]["recommendations"][0]["sku"] == "HAT-3"


class FixedRecommender(BaseRecommender):
    def recommend(self, profile_ids, limit, *, at=None):
        from omnichannel.channels.recommendations import Product

        return {pk: [Product(sku="FIX", name="Fixed")][:limit] for pk in profile_ids}


@pytest.mark.django_db
def test_recommender_is_pluggable(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "RECOMMENDER": "tests.channels.test_recommendations.FixedRecommender",
    }
    profile = ProfileFactory()
    assert isinstance(get_recommender(), FixedRecommender)
    data = prefetch([profile], recommendation_count=4)
    assert data.recommendations[profile.pk][0].sku == "FIX"
