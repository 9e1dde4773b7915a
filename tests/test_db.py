"""The batch write helpers of omnichannel.db, on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.db import bulk_update_rows, bulk_update_rows_where, copy_insert, stream
from omnichannel.journeys.models import StepRun
from omnichannel.profiles.models import Profile
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)


@pytest.fixture
def template():
    return MessageTemplate.objects.create(
        name="Note", slug="note", channel="onsite", subject="Hi", body="Hello"
    )


def deliveries(template, count, prefix="k"):
    profile = ProfileFactory()
    return [
        Delivery(
            profile=profile,
            channel="onsite",
            template=template,
            dedupe_key=f"{prefix}{number}",
            context={"number": number, "text": 'quote " and comma ,'},
            scheduled_at=T0,
        )
        for number in range(count)
    ]


def test_copy_insert_sets_keys_and_auto_now(template):
    rows = deliveries(template, 3)

    copy_insert(Delivery, rows)

    assert all(row.pk is not None for row in rows)
    assert not any(row._state.adding for row in rows)
    stored = Delivery.objects.get(pk=rows[2].pk)
    assert stored.dedupe_key == "k2"
    assert stored.context == {"number": 2, "text": 'quote " and comma ,'}
    assert stored.scheduled_at == T0
    assert stored.updated_at is not None
    assert stored.status == Delivery.Status.PENDING


def test_copy_insert_duplicate_key_inserts_nothing(template):
    copy_insert(Delivery, deliveries(template, 1))
    clash = deliveries(template, 3)

    with pytest.raises(IntegrityError), transaction.atomic():
        copy_insert(Delivery, clash)

    assert Delivery.objects.count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="other databases get bulk_create, split by their parameter limit",
)
def test_copy_insert_query_count_is_fixed(template):
    few, many = deliveries(template, 2, "a"), deliveries(template, 400, "b")

    with CaptureQueriesContext(connection) as few_queries:
        copy_insert(Delivery, few)
    with CaptureQueriesContext(connection) as many_queries:
        copy_insert(Delivery, many)

    assert len(many_queries) == len(few_queries) == 2


def test_bulk_update_rows_writes_fields(template):
    rows = deliveries(template, 3)
    copy_insert(Delivery, rows)
    for number, row in enumerate(rows):
        row.status = Delivery.Status.SENT
        row.subject = f"Subject {number}"
        row.sent_at = T0
        row.context = {"changed": number}

    with CaptureQueriesContext(connection) as queries:
        assert (
            bulk_update_rows(
                Delivery, rows, ["status", "subject", "sent_at", "context"]
            )
            == 3
        )

    if connection.vendor == "postgresql":
        assert len(queries) == 1
    stored = Delivery.objects.get(pk=rows[1].pk)
    assert (stored.status, stored.subject, stored.sent_at) == ("sent", "Subject 1", T0)
    assert stored.context == {"changed": 1}


def test_bulk_update_rows_where_skips_changed_rows(template):
    rows = deliveries(template, 3)
    copy_insert(Delivery, rows)
    Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(status="sending")
    # Another process moved the second row on meanwhile.
    Delivery.objects.filter(pk=rows[1].pk).update(status="failed")
    for row in rows:
        row.status = Delivery.Status.SENT

    with transaction.atomic():
        written = bulk_update_rows_where(
            Delivery, rows, ["status"], {"status": Delivery.Status.SENDING}
        )

    assert written == {rows[0].pk, rows[2].pk}
    stored = dict(Delivery.objects.values_list("pk", "status"))
    assert stored == {rows[0].pk: "sent", rows[1].pk: "failed", rows[2].pk: "sent"}


def test_copy_insert_of_step_runs_with_foreign_keys(template):
    from omnichannel.journeys.engine import enroll
    from tests.journeys.helpers import make_journey

    journey = make_journey(
        {"start": "end", "steps": {"end": {"type": "exit"}}}, slug="db-helper"
    )
    enrollment = enroll(journey, ProfileFactory(), at=T0)
    runs = [
        StepRun(
            enrollment=enrollment,
            journey_id=journey.pk,
            step_key="end",
            step_type="exit",
            outcome=StepRun.Outcome.EXITED,
            details={"n": number},
            at=T0,
        )
        for number in range(2)
    ]

    copy_insert(StepRun, runs)

    stored = StepRun.objects.filter(pk__in=[run.pk for run in runs]).order_by("pk")
    assert [run.details for run in stored] == [{"n": 0}, {"n": 1}]


@pytest.mark.django_db(transaction=True)
def test_stream_reads_inside_a_transaction():
    ProfileFactory.create_batch(5)
    seen = []

    with CaptureQueriesContext(connection) as queries:
        for pk in stream(
            Profile.objects.order_by("pk").values_list("pk", flat=True), 2
        ):
            seen.append((pk, connection.in_atomic_block))

    assert [pk for pk, _inside in seen] == sorted(
        Profile.objects.values_list("pk", flat=True)
    )
    assert all(inside for _pk, inside in seen)
    assert connection.in_atomic_block is False
    assert not any("WITH HOLD" in query["sql"] for query in queries.captured_queries)
