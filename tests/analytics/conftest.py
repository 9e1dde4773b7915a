import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def empty_cache():
    """Start each test without dashboards cached by an earlier one."""
    cache.clear()
    yield
    cache.clear()
