"""Prometheus counters of the engine and the outbox, and the gauges read at scrape.

Counters live in the process that did the work. Under gunicorn or Celery with
several processes, set the ``PROMETHEUS_MULTIPROC_DIR`` environment variable to an
empty directory shared by the processes of one machine before they start;
``render_latest`` then adds up the files every process writes there. The gauges
(due enrollments, outbox backlog, beat heartbeat) are queried from the database
when ``/metrics`` is scraped, so any one machine reports them for the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

DELIVERIES = Counter(
    "omnichannel_deliveries",
    "Deliveries that reached an outcome, by channel and status (sent, failed, "
    "suppressed, cancelled, held, deferred).",
    ["channel", "status"],
)
STEPS = Counter(
    "omnichannel_journey_steps",
    "Journey steps executed by the engine, by step type.",
    ["step_type"],
)
# Counted when the row is written, without waiting for the commit, so that event
# tracking queues no extra on_commit callback.
EVENTS = Counter("omnichannel_events_ingested", "Events written to the event log.")

CONTENT_TYPE = CONTENT_TYPE_LATEST


def count_delivery(channel: str, status: str) -> None:
    DELIVERIES.labels(channel=channel, status=status).inc()


def count_steps(step_types: list[str]) -> None:
    for step_type in step_types:
        STEPS.labels(step_type=step_type or "unknown").inc()


def count_events(number: int) -> None:
    if number:
        EVENTS.inc(number)


class DatabaseCollector(Collector):
    """Gauges of the shared state, read from the database at each scrape."""

    def collect(self) -> Iterator[Any]:
        from omnichannel.ops.health import backlog

        figures = backlog()
        yield _gauge(
            "omnichannel_due_enrollments",
            "Active enrollments whose next step is due now.",
            figures["due_enrollments"],
        )
        yield _gauge(
            "omnichannel_oldest_due_enrollment_age_seconds",
            "Seconds since the oldest due enrollment became due (0 when none).",
            figures["oldest_due_enrollment_age_seconds"] or 0,
        )
        yield _gauge(
            "omnichannel_deliveries_due",
            "Pending or deferred deliveries whose send time has come.",
            figures["due_deliveries"],
        )
        yield _gauge(
            "omnichannel_deliveries_sending",
            "Deliveries handed to a backend whose outcome is not recorded yet.",
            figures["sending_deliveries"],
        )
        age = figures["heartbeat_age_seconds"]
        if age is not None:
            yield _gauge(
                "omnichannel_beat_heartbeat_age_seconds",
                "Seconds since a worker last ran the heartbeat task that beat queues.",
                age,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def render_latest() -> bytes:
    """Return every metric in the Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return counters + generate_latest(database)
