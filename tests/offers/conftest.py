import pytest
from django.core.cache import cache

from omnichannel.profiles.services import identify
from tests.factories import OfferFactory


@pytest.fixture(autouse=True)
def empty_cache():
    # The rate limit counters live in the cache, which tests share.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anna():
    return identify(email="anna.example@example.com")


@pytest.fixture
def ben():
    return identify(email="ben.sample@example.org")


@pytest.fixture
def offer():
    return OfferFactory(
        slug="vip-early-access", name="VIP early access", code_prefix="VIP"
    )
