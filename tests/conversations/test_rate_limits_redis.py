"""Chat rate limits on a Redis cache shared by several processes (Redis db 10)."""

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.test import RequestFactory
from rest_framework.request import Request

from omnichannel.conversations.throttles import IPRateThrottle, VisitorRateThrottle

REDIS_URL = os.environ.get("OMNICHANNEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")

pytestmark = pytest.mark.integration


def _redis_answers():
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def redis_limits(settings, omnichannel_settings):
    if not _redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    prefix = f"omnichannel-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "ratelimits": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        },
    }
    omnichannel_settings(
        CHAT_RATE_LIMIT_CACHE="ratelimits",
        CHAT_RATE_LIMITS={"message": {"visitor": "10/hour", "ip": "1000/hour"}},
    )
    yield
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


class View:
    throttle_scope = "message"


def _request(visitor_id, address="192.0.2.10"):
    django_request = RequestFactory().post("/", REMOTE_ADDR=address)
    django_request.omnichannel_visitor_id = visitor_id
    return Request(django_request)


def test_concurrent_requests_never_exceed_limit(redis_limits):
    visitor_id = uuid.uuid4().hex

    def attempt(_):
        return VisitorRateThrottle().allow_request(_request(visitor_id), View())

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(attempt, range(40)))

    assert allowed.count(True) == 10


def test_counts_are_shared_between_cache_clients(redis_limits):
    visitor_id = uuid.uuid4().hex
    for _ in range(6):
        assert VisitorRateThrottle().allow_request(_request(visitor_id), View())

    # A second worker process builds its own cache client from the same settings.
    caches["ratelimits"].close()
    del caches["ratelimits"]
    results = [
        VisitorRateThrottle().allow_request(_request(visitor_id), View())
        for _ in range(5)
    ]

    assert results == [True, True, True, True, False]


def test_ip_limit_on_redis(redis_limits, omnichannel_settings):
    omnichannel_settings(
        CHAT_RATE_LIMIT_CACHE="ratelimits",
        CHAT_RATE_LIMITS={"message": {"visitor": None, "ip": "3/min"}},
    )

    results = [
        IPRateThrottle().allow_request(_request(uuid.uuid4().hex), View())
        for _ in range(4)
    ]

    assert results == [True, True, True, False]
