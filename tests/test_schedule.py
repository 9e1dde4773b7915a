"""The app's one beat schedule names only tasks a worker discovers."""

import json
import os
import subprocess
import sys

from omnichannel.schedule import beat_schedule

# What a worker process registers: Django set up, then autodiscover_tasks() alone.
DISCOVER = """
import json, django
django.setup()
from celery import Celery
app = Celery("discovery")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(force=True)
print(json.dumps(sorted(app.tasks)))
"""


def test_schedule_tasks_are_discovered():
    result = subprocess.run(
        [sys.executable, "-c", DISCOVER],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    registered = set(json.loads(result.stdout.strip().splitlines()[-1]))
    schedule = beat_schedule()

    missing = {
        name: entry["task"]
        for name, entry in schedule.items()
        if entry["task"] not in registered
    }
    assert missing == {}


def test_schedule_covers_each_domain():
    tasks = {entry["task"] for entry in beat_schedule().values()}

    for expected in (
        "omnichannel.journeys.tick",
        "omnichannel.journeys.date_triggers",
        "omnichannel.integrations.detect_abandoned_carts",
        "omnichannel.profiles.apply_event_retention",
        "omnichannel.audiences.sync_due_audiences",
        "omnichannel.segments.rebuild_periodic",
        "omnichannel.offers.expire",
        "omnichannel.conversations.close_idle",
        "omnichannel.experiments.evaluate",
    ):
        assert expected in tasks


def test_schedule_reads_given_options():
    schedule = beat_schedule({"PREDICTIONS_FIT_SCHEDULE": "0 4 * * 1"})

    fit = schedule["omnichannel-predictions-fit"]["schedule"]
    assert fit.hour == {4}
    assert fit.day_of_week == {1}


def test_schedule_imports_without_app_registry():
    # A settings module calls beat_schedule() before Django loads the apps.
    code = (
        "from omnichannel.schedule import beat_schedule; print(len(beat_schedule({})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert int(result.stdout.strip()) == len(beat_schedule({}))
