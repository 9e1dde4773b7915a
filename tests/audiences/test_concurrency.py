"""Two workers syncing one audience at once, on PostgreSQL."""

import threading

import pytest
from django.db import connection, connections

from omnichannel.audiences import services
from tests.audiences.fakes import ScriptedResponse
from tests.audiences.helpers import customer, meta_audience
from tests.factories import SegmentFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locking"
    ),
]


def test_concurrent_syncs_send_once(platforms, meta_server):
    segment = SegmentFactory()
    customer(segment, email="anna.example@example.com")
    audience = meta_audience(segment)
    slow = {"audience_id": audience.external_id, "num_received": 1}
    meta_server.respond_next(ScriptedResponse(200, slow, delay=0.5))
    start = threading.Barrier(2)
    results = []

    def worker():
        start.wait()
        try:
            results.append(services.sync_audience(audience.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    runs = [run for run in results if run is not None]
    assert len(results) == 2
    assert len(runs) == 1
    assert runs[0].added == 1
    assert len(meta_server.requests) == 1
