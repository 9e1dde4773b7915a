"""Prepare and inspect the integration database from a process of its own.

Run with the worker settings: ``python -m tests.integration.workers.scenario seed
10000`` creates a journey with one send step and that many enrollments due now;
``python -m tests.integration.workers.scenario health`` prints the health report
as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def seed(count: int) -> None:
    """Create ``count`` profiles, each enrolled and due at the journey's send step."""
    from django.db import connection
    from django.utils import timezone

    from omnichannel.channels.models import MessageTemplate
    from omnichannel.journeys.models import Enrollment, Journey
    from omnichannel.journeys.services import publish
    from omnichannel.profiles.models import Profile
    from tests.integration.workers.recording import CREATE_TABLE

    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
    MessageTemplate.objects.get_or_create(
        slug="it-onsite",
        defaults={
            "name": "Integration",
            "channel": "onsite",
            "subject": "Hello",
            "body": "Hello {{ first_name }}",
            "recommendation_count": 0,
        },
    )
    journey = Journey.objects.create(
        name="Integration",
        slug=f"it-{timezone.now():%H%M%S%f}",
        trigger_type="manual",
        draft_graph={
            "start": "send",
            "steps": {
                "send": {"type": "send", "channel": "onsite", "template": "it-onsite"}
            },
        },
    )
    version = publish(journey)
    now = timezone.now()
    profiles = Profile.objects.bulk_create(
        [Profile(first_name=f"Customer {i}") for i in range(count)], batch_size=5000
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                journey=journey,
                version=version,
                profile=profile,
                current_step="send",
                step_entered_at=now,
                next_run_at=now,
                entered_at=now,
                last_trigger_at=now,
            )
            for profile in profiles
        ],
        batch_size=5000,
    )
    print(json.dumps({"journey": journey.pk, "enrollments": count}))


def health() -> None:
    from omnichannel.ops.health import run_checks

    print(json.dumps(run_checks()))


def main(argv: list[str]) -> None:
    os.environ.setdefault(
        "DJANGO_SETTINGS_MODULE", "tests.integration.workers.settings"
    )
    import django

    django.setup()
    parser = argparse.ArgumentParser(prog="scenario")
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed")
    seed_parser.add_argument("count", type=int)
    commands.add_parser("health")
    arguments = parser.parse_args(argv)
    if arguments.command == "seed":
        seed(arguments.count)
    else:
        health()


if __name__ == "__main__":
    main(sys.argv[1:])
