"""The buffered batch of run_due: failures stay with their enrollment."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from omnichannel.channels.models import Delivery, MessageTemplate, OnsiteMessage
from omnichannel.journeys import batch as batch_module
from omnichannel.journeys import engine as engine_module
from omnichannel.journeys.engine import enroll, run_due
from omnichannel.journeys.models import Enrollment, JourneyVersion, StepRun
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
SEND = {
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "PT1H", "next": "note"},
        "note": {"type": "send", "channel": "onsite", "template": "note"},
    },
}


@pytest.fixture
def template():
    return MessageTemplate.objects.create(
        name="Note", slug="note", channel="onsite", subject="Hi", body="Hello"
    )


def test_broken_run_fails_alone(template):
    good = make_journey(SEND, slug="good")
    broken = make_journey(SEND, slug="broken")
    # A version written past validation: its send step names no template.
    graph = {**SEND, "steps": {**SEND["steps"], "note": {"type": "send"}}}
    JourneyVersion.objects.filter(journey=broken).update(graph=graph)
    ada = identify(email="ada.batch@example.com")
    first = enroll(good, ada, at=T0)
    second = enroll(broken, ada, at=T0)

    assert run_due(T0 + timedelta(hours=1)) == 2

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Enrollment.Status.COMPLETED
    assert second.status == Enrollment.Status.FAILED
    assert second.exit_reason == "error"
    assert second.current_step == "wait"
    assert Delivery.objects.filter(source_id=str(first.pk)).count() == 1
    assert not Delivery.objects.filter(source_id=str(second.pk)).exists()
    assert not StepRun.objects.filter(enrollment=second, step_key="note").exists()


def test_database_error_falls_back_one_by_one(monkeypatch, template):
    journey = make_journey(SEND)
    ada = identify(email="ada.batch@example.com")
    enrollment = enroll(journey, ada, at=T0)
    original = batch_module.StepBatch.flush
    calls = []

    def flush_failing_once(self):
        calls.append(1)
        if len(calls) == 1:
            raise DatabaseError("simulated clash")
        return original(self)

    monkeypatch.setattr(batch_module.StepBatch, "flush", flush_failing_once)

    assert run_due(T0 + timedelta(hours=1)) == 1

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert len(calls) == 1
    assert Delivery.objects.filter(source_id=str(enrollment.pk)).count() == 1
    assert StepRun.objects.filter(enrollment=enrollment, outcome="sent").count() == 1


def test_batch_notes_delivery_ids(template):
    journey = make_journey(SEND)
    ada = identify(email="ada.batch@example.com")
    enrollment = enroll(journey, ada, at=T0)

    run_due(T0 + timedelta(hours=1))

    enrollment.refresh_from_db()
    delivery = Delivery.objects.get(source_id=str(enrollment.pk))
    assert enrollment.context["deliveries"] == {"note": [delivery.pk]}
    assert delivery.dedupe_key == f"{enrollment.pk}:note:1"
    run = StepRun.objects.get(enrollment=enrollment, outcome="sent")
    assert run.details == {"delivery_id": delivery.pk, "channel": "onsite"}


def _advance_and_send(journey, count, on_commit):
    """Enroll ``count`` new customers and run one tick with its dispatch; return
    the number of queries."""
    for number in range(count):
        profile = identify(email=f"c{journey.pk}.{count}.{number}@example.com")
        enroll(journey, profile, at=T0)
    with CaptureQueriesContext(connection) as queries, on_commit():
        assert run_due(T0 + timedelta(hours=1)) == count
    return len(queries)


def test_batch_queries_do_not_grow_with_size(on_commit, template):
    journey = make_journey(SEND)
    # The first tick fills the per-process caches (journey interests, experiments).
    _advance_and_send(journey, 1, on_commit)

    few = _advance_and_send(journey, 2, on_commit)
    many = _advance_and_send(journey, 25, on_commit)

    assert many == few
    sent = Delivery.objects.filter(status=Delivery.Status.SENT).count()
    assert sent == 1 + 2 + 25


def test_batch_sends_each_delivery_once(on_commit, template):
    journey = make_journey(SEND)
    _advance_and_send(journey, 3, on_commit)
    with on_commit():
        assert run_due(T0 + timedelta(hours=2)) == 0

    deliveries = Delivery.objects.filter(source_type="journey")
    assert deliveries.count() == 3
    assert set(deliveries.values_list("status", flat=True)) == {"sent"}
    assert OnsiteMessage.objects.count() == 3
    assert Event.objects.filter(name="message_sent").count() == 3


def test_claim_order_follows_due_index(template):
    """The claim sorts by the columns that follow ``status`` in its index, so
    PostgreSQL reads the first due rows in order instead of sorting them all."""
    due_index = next(
        index
        for index in Enrollment._meta.indexes
        if index.name == "omni_enrollment_due"
    )
    assert due_index.fields == ["status", *engine_module.CLAIM_ORDER]

    journey = make_journey(SEND)
    enroll(journey, identify(email="claim.order@example.com"), at=T0)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert len(engine_module._claim(T0 + timedelta(hours=1), 10)) == 1
    claim = next(q["sql"] for q in queries if "ORDER BY" in q["sql"])
    order_by = claim.split("ORDER BY", 1)[1].split("LIMIT", 1)[0]
    assert order_by.strip() == '"omnichannel_enrollment"."next_run_at" ASC'
