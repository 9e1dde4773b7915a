"""Events per second through the batch API, and the p95 latency of one identify call.

The batch figure is measured twice: as shipped, with every ``event_tracked`` and
``events_tracked`` receiver the app connects (the journey engine, segments,
offers and order attribution handle each batch in the storing transaction), and
with no receivers, which is the cost of ingestion alone.

Needs PostgreSQL in DATABASE_URL. The script creates a database of its own, migrates
it, writes ``customers`` profiles of the standard data set (``benchmarks.dataset``,
without its events) with an email address and identity each, in SQL, and starts one
gunicorn process (one sync worker, one thread) on 127.0.0.1 with the test settings and
persistent database connections (``benchmarks/server_settings.py``). The
client posts batches of 1,000 events one after another, each referring to existing
customers by email, with 2% new customers and an idempotency key per event.

References, measured in the same run on the same database:

- batch throughput: a bare bulk insert of the same rows (one multi-row INSERT
  statement per 1,000 rows, one transaction each, through psycopg) into a copy of
  the event table with the same indexes;
- identify latency: the same identify calls made in-process, without HTTP.

A ``finally`` block drops the database at the end, also after an error.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmarks import dataset
from benchmarks.common import ROOT, Result, percentile

BATCH_SIZE = 1000
SHIPPED_APP = "django.core.wsgi:get_wsgi_application()"
INGEST_ONLY_APP = "benchmarks.wsgi_ingest_only:application"
NEW_CUSTOMER_SHARE = 0.02
IDENTIFY_CALLS = 300
SERVER_START_TIMEOUT = 60


def run(customers: int) -> list[Result]:
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise RuntimeError(
            "bench_events_api needs PostgreSQL: set DATABASE_URL=postgres://..."
        )
    database = f"bench_identity_{os.getpid()}"
    bench_url = _with_database(url, database)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        _migrate(bench_url)
        with _django_on(database):
            emails = _seed(customers)
            key = _api_key()
            batches = _batches(emails, count=max(6, min(30, customers // 1000)))
            half = len(batches) // 2
            with _server(bench_url, INGEST_ONLY_APP) as port:
                ingest_throughput = _post_batches(port, key, batches[:half])
            with _server(bench_url, SHIPPED_APP) as port:
                throughput = _post_batches(port, key, batches[half:])
                identify_p95 = _identify_latency(port, key, emails)
            reference_throughput = _bulk_insert_rate(batches)
            reference_p95 = _identify_latency_in_process(emails)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    receivers = _receiver_names()
    return [
        Result(
            name="events_api_batch_ingest_throughput",
            value=round(ingest_throughput, 1),
            unit="events/s",
            reference_value=round(reference_throughput, 1),
            target=">=5000",
            customers=customers,
            reference="bare multi-row INSERT of the same rows, psycopg",
            note=f"{half - 1} batches of {BATCH_SIZE}, no receivers of stored events",
        ),
        Result(
            name="events_api_batch_throughput",
            value=round(throughput, 1),
            unit="events/s",
            reference_value=round(reference_throughput, 1),
            target=">=5000",
            customers=customers,
            reference="bare multi-row INSERT of the same rows, psycopg",
            note=f"{len(batches) - half - 1} batches of {BATCH_SIZE}, "
            f"receivers: {receivers}",
        ),
        Result(
            name="identify_api_p95_latency",
            value=round(identify_p95, 2),
            unit="ms",
            reference_value=round(reference_p95, 2),
            target="<=20",
            customers=customers,
            reference="p95 of the same identify() calls in-process, no HTTP",
            note=f"{IDENTIFY_CALLS} sequential calls over HTTP",
        ),
    ]


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _environment(bench_url: str, settings: str = "tests.settings") -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example_project")]),
    }


def _migrate(bench_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
        env=_environment(bench_url),
        cwd=ROOT,
        check=True,
    )


@contextmanager
def _django_on(database: str) -> Any:
    """Point this process's default connection at the benchmark database."""
    from django.db import connections

    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = database
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def _seed(customers: int) -> list[str]:
    """Write the standard data set's profiles with an email address and identity
    each, in SQL; return the addresses."""
    dataset.generate_profiles(customers, emails=True)
    dataset.insert_email_identities()
    return [dataset.email_address(index) for index in range(customers)]


def _api_key() -> str:
    from omnichannel.authentication import create_api_key

    _key, raw = create_api_key("benchmark", ["events:write", "profiles:write"])
    return raw


def _batches(emails: list[str], count: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(7)
    names = ["product_viewed", "page_viewed", "cart_updated", "searched"]
    batches = []
    serial = 0
    for _ in range(count + 2):  # the first batch on each server warms it up
        events = []
        for _ in range(BATCH_SIZE):
            serial += 1
            if rng.random() < NEW_CUSTOMER_SHARE:
                email = f"new{serial}@bench.example"
            else:
                email = rng.choice(emails)
            events.append(
                {
                    "event": rng.choice(names),
                    "email": email,
                    "occurred_at": "2026-12-03T12:00:00+01:00",
                    "properties": {
                        "sku": f"SKU-{rng.randrange(5000)}",
                        "path": f"/products/sku-{rng.randrange(5000)}/",
                        "price": "14.90",
                    },
                    "idempotency_key": f"bench-{serial}",
                }
            )
        batches.append(events)
    return batches


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _receiver_names() -> str:
    from omnichannel.profiles.models import Event
    from omnichannel.profiles.signals import event_tracked, events_tracked

    names = []
    for signal_name, signal in (
        ("event_tracked", event_tracked),
        ("events_tracked", events_tracked),
    ):
        # NOTE: _live_receivers is internal to Django's Signal (5.2).
        sync_receivers, _async = signal._live_receivers(Event)
        names += sorted(
            f"{signal_name}: {r.__module__}.{r.__qualname__}" for r in sync_receivers
        )
    return ", ".join(names) or "none"


@contextmanager
def _server(bench_url: str, app: str) -> Any:
    port = _free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "1",
            "--timeout",
            "120",
            app,
        ],
        env=_environment(bench_url, "benchmarks.server_settings"),
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    try:
        _wait_for(port, process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for(port: int, process: subprocess.Popen, log: Any) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited: {log.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on port {port} in time")


def _post(port: int, key: str, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
            },
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _post_batches(port: int, key: str, batches: list[list[dict[str, Any]]]) -> float:
    bodies = [json.dumps({"events": events}).encode() for events in batches]
    path = "/omnichannel/api/events/batch/"
    _check(*_post(port, key, path, bodies[0]))
    start = time.perf_counter()
    for body in bodies[1:]:
        _check(*_post(port, key, path, body))
    elapsed = time.perf_counter() - start
    return BATCH_SIZE * (len(bodies) - 1) / elapsed


def _check(status: int, body: bytes) -> None:
    if status != 200 and status != 201:
        raise RuntimeError(f"API returned {status}: {body[:500]!r}")


def _identify_latency(port: int, key: str, emails: list[str]) -> float:
    rng = random.Random(11)
    path = "/omnichannel/api/identify/"
    samples = []
    for _ in range(IDENTIFY_CALLS):
        body = json.dumps({"email": rng.choice(emails)}).encode()
        start = time.perf_counter()
        _check(*_post(port, key, path, body))
        samples.append((time.perf_counter() - start) * 1000)
    return percentile(samples, 0.95)


def _identify_latency_in_process(emails: list[str]) -> float:
    from omnichannel.profiles.services import identify

    rng = random.Random(11)
    samples = []
    for _ in range(IDENTIFY_CALLS):
        email = rng.choice(emails)
        start = time.perf_counter()
        identify(email=email)
        samples.append((time.perf_counter() - start) * 1000)
    return percentile(samples, 0.95)


def _bulk_insert_rate(batches: list[list[dict[str, Any]]]) -> float:
    """Insert the rows the API stored into a same-shaped table, without Django."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_event_copy (LIKE omnichannel_event INCLUDING ALL)"
        )
        cursor.execute(
            "SELECT profile_id, name, occurred_at, received_at, source, "
            "properties::text, object_type, object_id, revenue, currency, "
            "idempotency_key FROM omnichannel_event "
            "WHERE idempotency_key = ANY(%s) ORDER BY id",
            [[e["idempotency_key"] for batch in batches[1:] for e in batch]],
        )
        rows = cursor.fetchall()
    columns = (
        "profile_id, name, occurred_at, received_at, source, properties, "
        "object_type, object_id, revenue, currency, idempotency_key"
    )
    placeholders = "(" + ", ".join(["%s"] * 11) + ")"
    raw = connection.connection
    start = time.perf_counter()
    for offset in range(0, len(rows), BATCH_SIZE):
        chunk = rows[offset : offset + BATCH_SIZE]
        values = ", ".join([placeholders] * len(chunk))
        with raw.transaction(), raw.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO bench_event_copy ({columns}) VALUES {values}",
                [value for row in chunk for value in row],
            )
    elapsed = time.perf_counter() - start
    return len(rows) / elapsed


if __name__ == "__main__":
    from benchmarks.common import setup_django

    setup_django()
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    for result in run(size):
        print(json.dumps(result.as_dict()))
