from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine

from omnichannel.channels import services
from omnichannel.channels.backends.locmem import LocmemBackend, outbox
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.channels.tasks import dispatch_due_deliveries
from omnichannel.checks import check_settings
from omnichannel.ops.routing import task_routes
from omnichannel.ops.schedule import beat_schedule
from tests.factories import ProfileFactory

Status = Delivery.Status


class IdempotentLocmemBackend(LocmemBackend):
    idempotent = True


def error_ids(settings, **values):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, **values}
    return [error.id for error in check_settings()]


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["short", 12345])
def test_check_monitoring_token_invalid(settings, token):
    assert "omnichannel.E120" in error_ids(settings, MONITORING_TOKEN=token)


@pytest.mark.django_db
def test_check_monitoring_token_valid(settings):
    assert "omnichannel.E120" not in error_ids(settings, MONITORING_TOKEN="x" * 32)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["HEALTH_HEARTBEAT_MAX_AGE", "HEALTH_MAX_DUE_AGE", "HEALTH_BROKER_TIMEOUT"]
)
def test_check_health_limits_invalid(settings, name):
    assert "omnichannel.E121" in error_ids(settings, **{name: 30})
    assert "omnichannel.E121" in error_ids(settings, **{name: timedelta(0)})


@pytest.mark.django_db
def test_check_pending_grace_invalid(settings):
    ids = error_ids(settings, DELIVERY_PENDING_GRACE=timedelta(seconds=-1))

    assert "omnichannel.E035" in ids


def test_task_routes_separate_queues():
    routes = task_routes()

    assert routes["omnichannel.journeys.*"] == {"queue": "omnichannel-send"}
    assert routes["omnichannel.channels.*"] == {"queue": "omnichannel-send"}
    assert routes["omnichannel.segments.*"] == {"queue": "omnichannel-segments"}
    assert routes["omnichannel.predictions.*"] == {"queue": "omnichannel-models"}
    assert task_routes(send="fast")["omnichannel.ops.*"] == {"queue": "fast"}


def test_beat_schedule_entries_expire():
    entries = beat_schedule(tick_every=timedelta(seconds=10))

    tick = entries["omnichannel-journeys-tick"]
    assert tick["task"] == "omnichannel.journeys.tick"
    assert tick["schedule"] == 10.0
    assert tick["options"] == {"expires": 10.0}
    assert entries["omnichannel-heartbeat"]["task"] == "omnichannel.ops.heartbeat"
    assert entries["omnichannel-outbox-sweep"]["schedule"] == 60.0


@pytest.mark.parametrize("value", [timedelta(0), 30])
def test_beat_schedule_bad_interval_rejected(value):
    with pytest.raises(ValueError, match="tick_every"):
        beat_schedule(tick_every=value)


@pytest.fixture
def template(db):
    return MessageTemplate.objects.create(
        name="Cart SMS",
        slug="cart-sms",
        channel="sms",
        body="Your cart is waiting",
        recommendation_count=0,
    )


@pytest.fixture
def idempotent_sms(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {"sms": {"BACKEND": f"{__name__}.IdempotentLocmemBackend"}},
    }


@pytest.mark.django_db
def test_interrupted_send_resumed_for_idempotent_backend(
    on_commit, idempotent_sms, template
):
    from omnichannel.consent.services import record_consent

    profile = ProfileFactory(phone="+447700900789")
    record_consent(profile, "sms", True)
    delivery, _ = services.create_delivery(profile, "sms", template, dedupe_key="k1")
    started = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, sending_started_at=started, attempts=1
    )

    with time_machine.travel(started + timedelta(minutes=20), tick=False):
        assert services.fail_interrupted() == 1
        delivery.refresh_from_db()
        assert delivery.status == Status.DEFERRED
        assert delivery.reason == "interrupted"
        with on_commit():
            services.dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert delivery.attempts == 2
    assert [message.delivery_id for message in outbox] == [delivery.pk]


@pytest.mark.django_db
def test_interrupted_send_failed_after_last_attempt(idempotent_sms, template, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "DELIVERY_MAX_ATTEMPTS": 2}
    delivery, _ = services.create_delivery(
        ProfileFactory(), "sms", template, dedupe_key="k2"
    )
    started = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, sending_started_at=started, attempts=2
    )

    with time_machine.travel(started + timedelta(minutes=20), tick=False):
        services.fail_interrupted()

    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert delivery.reason == "interrupted"


@pytest.mark.django_db
def test_pending_grace_setting(settings, template):
    delivery, _ = services.create_delivery(
        ProfileFactory(), "sms", template, dedupe_key="k3"
    )
    created = delivery.created_at

    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "DELIVERY_PENDING_GRACE": timedelta(seconds=5),
    }
    assert services.due_delivery_ids(created + timedelta(seconds=4)) == []
    assert services.due_delivery_ids(created + timedelta(seconds=6)) == [delivery.pk]


@pytest.mark.django_db
def test_sweep_queues_pending_once_per_grace(settings, template):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "DELIVERY_PENDING_GRACE": timedelta(minutes=1),
    }
    delivery, _ = services.create_delivery(
        ProfileFactory(), "sms", template, dedupe_key="k4"
    )
    start = delivery.created_at
    # The queued tasks are dropped, as a broker restart would drop them.
    lost_tasks = mock.patch("omnichannel.channels.tasks.dispatch_delivery_task.delay")

    with lost_tasks, time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert dispatch_due_deliveries() == 1
        assert dispatch_due_deliveries() == 0
    with lost_tasks, time_machine.travel(start + timedelta(minutes=3, seconds=1)):
        assert dispatch_due_deliveries() == 1

    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
