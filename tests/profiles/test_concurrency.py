"""Concurrent identity resolution, merges and batches on PostgreSQL.

Each worker thread has its own database connection, so the transactions really
overlap; SQLite serialises every write and would prove nothing.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError, connection, connections

from omnichannel.exceptions import MergeError
from omnichannel.profiles.batch import store_events
from omnichannel.profiles.merging import merge_profiles
from omnichannel.profiles.models import Event, Identity, Profile, ProfileMerge
from omnichannel.profiles.payloads import parse_batch
from omnichannel.profiles.services import identify

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks"
    ),
]

WORKERS = 8
TIMEOUT = 60


def run_together(tasks):
    """Run the callables at the same moment in threads; return results or errors."""
    barrier = threading.Barrier(len(tasks))

    def call(task):
        try:
            barrier.wait(timeout=TIMEOUT)
            return task()
        except Exception as error:  # noqa: BLE001 - returned for the asserts
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(call, task) for task in tasks]
        return [future.result(timeout=TIMEOUT) for future in futures]


def test_concurrent_merges_of_same_pair_merge_once():
    first = identify(email="one@example.com")
    second = identify(phone="+447700900456")
    tasks = [
        (lambda: merge_profiles(first, second))
        if i % 2
        else (lambda: merge_profiles(second, first))
        for i in range(WORKERS)
    ]
    results = run_together(tasks)
    merged = [r for r in results if isinstance(r, ProfileMerge)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(merged) == 1
    assert all(isinstance(e, MergeError) for e in errors), errors
    assert not any(isinstance(e, OperationalError) for e in errors)
    assert ProfileMerge.objects.count() == 1
    assert Profile.objects.filter(merged_into__isnull=True).count() == 1
    assert Identity.objects.count() == 2


def test_concurrent_merges_in_a_cycle_do_not_deadlock():
    profiles = [
        identify(email="a@example.com"),
        identify(phone="+447700900456"),
        identify(external_id="pos-1"),
        identify(visitor_id="f" * 32),
    ]
    pairs = [(profiles[i], profiles[(i + 1) % 4]) for i in range(4)] * 2
    results = run_together(
        [lambda s=s, lo=lo: merge_profiles(s, lo) for s, lo in pairs]
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert not any(isinstance(e, OperationalError) for e in errors), errors
    assert all(isinstance(e, MergeError) for e in errors)
    live = Profile.objects.filter(merged_into__isnull=True)
    assert live.count() == 4 - ProfileMerge.objects.count()
    assert Identity.objects.count() == 4


def test_concurrent_identify_of_new_email_creates_one_profile():
    results = run_together(
        [lambda: identify(email="Anna.Example@Example.COM ") for _ in range(WORKERS)]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({profile.pk for profile in results}) == 1
    assert Profile.objects.count() == 1
    assert Identity.objects.count() == 1


def test_concurrent_identify_joins_visitors_without_loss():
    email = "lena@example.org"
    visitors = [f"{i:032x}" for i in range(WORKERS)]
    for visitor in visitors:
        identify(visitor_id=visitor)
    results = run_together(
        [lambda v=v: identify(email=email, visitor_id=v) for v in visitors]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    live = Profile.objects.filter(merged_into__isnull=True)
    assert live.count() == 1
    owner = live.get()
    assert owner.identities.count() == WORKERS + 1
    # The first request attaches the email to its anonymous profile; every other
    # anonymous profile is merged into that one.
    assert ProfileMerge.objects.count() == WORKERS - 1
    assert Profile.objects.count() == WORKERS


def test_concurrent_batches_store_each_key_once():
    body = {
        "events": [
            {
                "event": "product_viewed",
                "email": f"c{i % 5}@example.com",
                "idempotency_key": f"k-{i}",
            }
            for i in range(200)
        ]
    }
    items, errors = parse_batch(body)
    assert not errors
    results = run_together([lambda: store_events(items) for _ in range(4)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Event.objects.count() == 200
    assert sum(len(r.events) for r in results) == 200
    assert Profile.objects.count() == 5
