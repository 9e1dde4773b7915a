import json
import logging

import pytest

from omnichannel.journeys.engine import enroll, run_due
from omnichannel.ops.logcontext import (
    JSONFormatter,
    LogIdsFilter,
    bind_log_ids,
    current_ids,
    log_ids,
)
from tests.factories import ProfileFactory
from tests.journeys.helpers import make_journey


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.addFilter(LogIdsFilter())
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def capture():
    handler = Capture()
    logger = logging.getLogger("omnichannel")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


def record(message="hello", **extra):
    logger = logging.getLogger("omnichannel.tests")
    made = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, message, (), None, extra=extra
    )
    LogIdsFilter().filter(made)
    return made


def test_log_ids_nest_and_reset():
    with log_ids(profile_id=1, journey_id=2):
        with log_ids(enrollment_id=3, journey_id=None):
            assert current_ids() == {
                "profile_id": 1,
                "journey_id": 2,
                "enrollment_id": 3,
            }
        assert current_ids() == {"profile_id": 1, "journey_id": 2}
    assert current_ids() == {}


def test_log_ids_unknown_name_rejected():
    with pytest.raises(TypeError, match="unknown ids"), log_ids(order_id=1):
        pass


def test_bind_outside_block_does_nothing():
    bind_log_ids(profile_id=9)

    assert current_ids() == {}


def test_filter_sets_ids_and_extra_wins():
    with log_ids(delivery_id=7, profile_id=1):
        made = record(profile_id=5)

    assert made.delivery_id == 7
    assert made.profile_id == 5
    assert made.enrollment_id is None


def test_json_formatter_writes_ids_and_exception():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        with log_ids(enrollment_id=4):
            made = record("failed %s")
            made.exc_info = sys.exc_info()
            line = JSONFormatter().format(made)

    payload = json.loads(line)
    assert payload["enrollment_id"] == 4
    assert payload["level"] == "WARNING"
    assert payload["message"] == "failed %s"
    assert "ValueError: boom" in payload["exception"]
    assert "profile_id" not in payload


@pytest.mark.django_db
def test_engine_logs_carry_ids(on_commit, capture):
    from omnichannel.channels.models import MessageTemplate

    template = MessageTemplate.objects.create(
        name="Gone", slug="gone", channel="sms", body="Hi"
    )
    journey = make_journey(
        {
            "start": "send",
            "steps": {"send": {"type": "send", "channel": "sms", "template": "gone"}},
        }
    )
    # Deleted after publishing, so the send step logs the missing template.
    template.delete()
    profile = ProfileFactory()
    with on_commit():
        enrollment = enroll(journey, profile)
    with on_commit():
        run_due()

    missing = [r for r in capture.records if "template" in r.getMessage()]
    assert len(missing) == 1
    assert missing[0].enrollment_id == enrollment.pk
    assert missing[0].journey_id == journey.pk
    assert missing[0].profile_id == profile.pk
    assert missing[0].step == "send"
    entered = [r for r in capture.records if "entered journey" in r.getMessage()]
    assert entered[0].enrollment_id == enrollment.pk
