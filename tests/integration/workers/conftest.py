"""Fixtures of the worker tests: a migrated template database, a fresh copy per
test, a flushed Redis database and the processes, all stopped afterwards.

The tests run when ``OMNICHANNEL_INTEGRATION=1`` is set (``make
test-integration``) and PostgreSQL and Redis respond on 127.0.0.1.
"""

from __future__ import annotations

import os

import pytest

from tests.integration.workers import harness

ENABLED = os.environ.get("OMNICHANNEL_INTEGRATION") == "1"


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if not str(item.fspath).startswith(here):
            continue
        item.add_marker(pytest.mark.integration)
        if not ENABLED:
            item.add_marker(
                pytest.mark.skip(
                    reason="worker integration tests run with "
                    "OMNICHANNEL_INTEGRATION=1 (make test-integration)"
                )
            )


@pytest.fixture(scope="session")
def services():
    problem = harness.postgres_problem() or harness.redis_problem()
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="session")
def template_database(services):
    name = harness.new_database_name("omnichannel_it_template")
    try:
        harness.migrate_template(name)
        yield name
    finally:
        harness.drop_database(name)


@pytest.fixture
def database(template_database):
    name = harness.new_database_name()
    harness.admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    try:
        yield harness.database_url(name)
    finally:
        harness.drop_database(name)


@pytest.fixture
def shared_broker(services):
    import redis

    client = redis.Redis.from_url(harness.REDIS_URL)
    client.flushdb()
    yield harness.REDIS_URL
    client.flushdb()


@pytest.fixture
def make_cluster(tmp_path):
    clusters = []

    def make(db_url, broker_url, **extra_env):
        cluster = harness.Cluster(db_url, broker_url, tmp_path, dict(extra_env))
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop_all()


@pytest.fixture
def own_redis(services, tmp_path):
    server = harness.OwnRedis(harness.OWN_REDIS_PORT, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
