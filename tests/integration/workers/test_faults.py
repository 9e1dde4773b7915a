"""Real Celery workers and beat on PostgreSQL and Redis, with faults injected.

Each test seeds enrollments due at a send step on the recording backend, which
stands for a provider that accepts an idempotency key, and checks afterwards that
every delivery is ``sent`` and reached the provider exactly once.
"""

from __future__ import annotations

import json
import os
import time

import psycopg

from tests.integration.workers import harness
from tests.integration.workers.harness import counts, wait_until

ENROLLMENTS = int(os.environ.get("OMNICHANNEL_IT_ENROLLMENTS", "10000"))
# Wall time allowed per enrollment and phase. A busy two-core machine (load 10)
# was seen to advance or send 15 to 40 enrollments per second.
SECONDS_PER_ENROLLMENT = 0.15


def time_limit(count):
    return 60 + count * SECONDS_PER_ENROLLMENT


def seed(cluster, count):
    output = harness.run_python(
        ["-m", "tests.integration.workers.scenario", "seed", str(count)], cluster.env()
    )
    return json.loads(output.strip().splitlines()[-1])


def health(cluster):
    output = harness.run_python(
        ["-m", "tests.integration.workers.scenario", "health"], cluster.env()
    )
    return json.loads(output.strip().splitlines()[-1])


def heartbeat_count(db_url):
    with psycopg.connect(db_url) as connection:
        return connection.execute(
            "SELECT count(*) FROM omnichannel_heartbeat"
        ).fetchone()[0]


def wait_all_sent(cluster, count, timeout):
    def done():
        cluster.check_alive()
        figures = counts(cluster.db_url)
        return figures.get("delivery_sent", 0) == count and figures

    return wait_until(
        done,
        timeout=timeout,
        what=f"{count} deliveries sent",
        interval=0.5,
        describe=lambda: f"{counts(cluster.db_url)}\n{cluster.logs()}",
    )


def assert_sent_exactly_once(figures, count):
    assert figures["deliveries"] == count
    assert figures["delivery_sent"] == count
    assert figures["active_enrollments"] == 0
    assert figures["completed_enrollments"] == count
    assert figures["provider_rows"] == count
    assert figures["provider_distinct"] == count


def test_worker_killed_mid_batch_sends_each_once(database, shared_broker, make_cluster):
    count = ENROLLMENTS
    limit = time_limit(count)
    cluster = make_cluster(database, shared_broker)
    seed(cluster, count)
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.start_beat()

    # First while ticks advance enrollments and write Delivery rows ...
    wait_until(
        lambda: counts(database)["deliveries"] >= count // 5,
        timeout=limit,
        what="a fifth of the Delivery rows written",
        describe=lambda: f"{counts(database)}\n{cluster.logs()}",
    )
    during_ticks = counts(database)
    cluster.kill("w1")
    cluster.start_worker("w1")

    # ... then while workers dispatch them.
    wait_until(
        lambda: counts(database).get("delivery_sent", 0) >= count // 5,
        timeout=limit,
        what="a fifth of the deliveries sent",
        describe=lambda: f"{counts(database)}\n{cluster.logs()}",
    )
    during_sends = counts(database)
    cluster.kill("w1")
    cluster.start_worker("w1")

    figures = wait_all_sent(cluster, count, timeout=limit)
    assert during_ticks["active_enrollments"] > 0, "the kill came after the ticks"
    assert during_sends["delivery_sent"] < count, "the kill came after the sends"
    assert_sent_exactly_once(figures, count)


def test_beat_installs_tick_and_runs_it(database, shared_broker, make_cluster):
    cluster = make_cluster(database, shared_broker)
    seed(cluster, 1)
    cluster.start_worker("w1", concurrency=1)
    cluster.start_beat()

    figures = wait_all_sent(cluster, 1, timeout=60)
    assert_sent_exactly_once(figures, 1)
    with psycopg.connect(database) as connection:
        tasks = dict(
            connection.execute(
                "SELECT name, task FROM django_celery_beat_periodictask WHERE enabled"
            ).fetchall()
        )
    assert tasks["omnichannel-journeys-tick"] == "omnichannel.journeys.tick"
    assert tasks["omnichannel-heartbeat"] == "omnichannel.ops.heartbeat"
    wait_until(
        lambda: heartbeat_count(database),
        timeout=30,
        what="the heartbeat task to run",
        describe=cluster.logs,
    )
    report = health(cluster)
    assert report["status"] == "ok", report
    assert report["checks"]["beat"]["status"] == "ok"
    assert report["checks"]["broker"]["status"] == "ok"
    assert report["checks"]["engine"]["due_enrollments"] == 0


def test_broker_restart_loses_no_delivery(database, own_redis, make_cluster):
    count = 1_000
    cluster = make_cluster(database, own_redis.url)
    seed(cluster, count)
    cluster.start_worker("w1")
    cluster.start_beat()

    wait_until(
        lambda: counts(database).get("delivery_sent", 0) >= count // 5,
        timeout=time_limit(count),
        what="a fifth of the deliveries sent",
        describe=lambda: f"{counts(database)}\n{cluster.logs()}",
    )
    own_redis.stop()
    stopped = counts(database)
    time.sleep(2)
    own_redis.start()

    figures = wait_all_sent(cluster, count, timeout=time_limit(count))
    assert stopped["delivery_sent"] < count, "the restart came after the last send"
    assert_sent_exactly_once(figures, count)


def test_database_connection_dropped_during_send(database, shared_broker, make_cluster):
    count = 20
    cluster = make_cluster(database, shared_broker, OMNICHANNEL_IT_SEND_DELAY="0.5")
    seed(cluster, count)
    cluster.start_worker("w1")
    cluster.start_beat()

    wait_until(
        lambda: counts(database).get("delivery_sending", 0) > 0,
        timeout=60,
        what="a delivery in the middle of its send",
        describe=lambda: f"{counts(database)}\n{cluster.logs()}",
    )
    with psycopg.connect(database, autocommit=True) as connection:
        terminated = connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() "
            "AND application_name = 'omnichannel-it-worker'"
        ).fetchone()[0]
    assert terminated > 0

    figures = wait_all_sent(cluster, count, timeout=90)
    assert_sent_exactly_once(figures, count)
