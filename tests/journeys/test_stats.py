"""Per-step counts and unsent reasons of the journey admin, from real runs."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.consent.services import record_consent
from omnichannel.journeys.engine import enroll, run_due
from omnichannel.journeys.stats import step_counts, unsent_reasons
from omnichannel.profiles.services import identify
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 4, 10, 0, tzinfo=ZoneInfo("UTC"))


@pytest.fixture
def welcome():
    MessageTemplate.objects.create(
        name="Welcome",
        slug="welcome",
        channel="email",
        subject="Welcome",
        body="Hello",
        recommendation_count=0,
    )
    return make_journey(
        {
            "start": "wait",
            "steps": {
                "wait": {"type": "wait", "duration": "PT1H", "next": "email"},
                "email": {"type": "send", "channel": "email", "template": "welcome"},
            },
        },
        slug="welcome",
    )


def run_at(moment, callbacks):
    with time_machine.travel(moment, tick=False):
        with callbacks(execute=True):
            run_due(moment)


def test_counts_follow_delivery_outcomes(welcome, django_capture_on_commit_callbacks):
    subscribed = identify(email="yes@example.com")
    record_consent(subscribed, "email", True, source="signup", at=START)
    silent = identify(email="no@example.com")
    for profile in (subscribed, silent):
        enroll(welcome, profile, at=START)

    run_at(START, django_capture_on_commit_callbacks)
    run_at(START + timedelta(hours=1), django_capture_on_commit_callbacks)

    statuses = dict(Delivery.objects.values_list("profile__email", "status"))
    assert statuses == {
        "yes@example.com": Delivery.Status.SENT,
        "no@example.com": Delivery.Status.SUPPRESSED,
    }
    counts = step_counts(welcome)
    assert counts["wait"]["entered"] == 2
    assert counts["email"]["entered"] == 2
    assert counts["email"]["sent"] == 1
    assert counts["email"]["skipped"] == 1
    assert unsent_reasons(welcome) == {"no_consent": 1}


def test_counts_of_waiting_runs(welcome, django_capture_on_commit_callbacks):
    enroll(welcome, identify(email="later@example.com"), at=START)

    run_at(START, django_capture_on_commit_callbacks)

    counts = step_counts(welcome)
    assert counts["wait"]["entered"] == 1
    assert counts["wait"]["waiting"] == 1
    assert "email" not in counts
    assert unsent_reasons(welcome) == {}
