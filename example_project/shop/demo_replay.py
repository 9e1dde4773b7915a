"""Replaying the installed journeys over the imported purchase history.

The CDNOW history has no contact details, so the demo gives every tenth customer
a sample address at example.com and an email marketing consent, recorded as demo
data at their first order. Customers who are in a segment that triggers a journey
are enrolled as if they had entered it on the last day of the data. The engine
runs hour by hour through that day with the process clock set there
(time-machine), so consent, offer codes and sent_at agree with it. Messages go to
in-memory outboxes (Django's locmem email backend and the app's locmem channel
backend) rather than the console, and the demo prints counts per journey.

Every part is idempotent: a second run finds the contacts seeded, the re-entry
rules of the journeys turn the enrollments away, and nothing is due any more.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, TextIO

import time_machine
from django.core import mail
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from omnichannel.channels.backends import locmem
from omnichannel.channels.models import Delivery
from omnichannel.conf import app_settings
from omnichannel.consent.models import ConsentRecord
from omnichannel.journeys.engine import enroll, run_due
from omnichannel.journeys.models import Enrollment, Journey, StepRun
from omnichannel.profiles.models import Identity, Profile
from omnichannel.segments.models import SegmentMembership

SAMPLE_EVERY = 10
EXTERNAL_PREFIX = "cdnow:"
SEGMENT_TRIGGERS = ("segment_entered",)
LOCMEM_CHANNELS = ("sms", "push", "webpush", "whatsapp", "webhook")


def seed_sample_contacts(every: int = SAMPLE_EVERY) -> int:
    """Give every ``every``-th imported customer a sample email and consent.

    Returns how many customers got one in this call.
    """
    rows = Identity.objects.filter(
        kind=Identity.Kind.EXTERNAL,
        value__startswith=EXTERNAL_PREFIX,
        profile__email="",
    ).values_list("value", "profile_id")
    chosen: dict[int, str] = {}
    for value, profile_id in rows:
        number = value.removeprefix(EXTERNAL_PREFIX)
        if number.isdigit() and int(number) % every == 0:
            chosen[profile_id] = f"customer-{number}@example.com"
    profiles = list(Profile.objects.filter(pk__in=list(chosen)))
    now = timezone.now()
    for profile in profiles:
        profile.email = chosen[profile.pk]
    Profile.objects.bulk_update(profiles, ["email"], batch_size=500)
    Identity.objects.bulk_create(
        [
            Identity(
                profile=profile,
                kind=Identity.Kind.EMAIL,
                value=profile.email,
                source="demo",
                created_at=now,
                last_seen_at=now,
            )
            for profile in profiles
        ],
        batch_size=500,
    )
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                profile=profile,
                channel="email",
                purpose="marketing",
                granted=True,
                recorded_at=profile.first_order_at or now,
                address=profile.email,
                source="demo",
                proof={"note": "sample consent of the demo data"},
            )
            for profile in profiles
        ],
        batch_size=500,
    )
    return len(profiles)


def enroll_segment_members(at: datetime) -> Counter[str]:
    """Enroll the members of each triggering segment at ``at``; count per journey."""
    enrolled: Counter[str] = Counter()
    journeys = Journey.objects.filter(
        status=Journey.Status.ACTIVE, trigger_type__in=SEGMENT_TRIGGERS
    ).select_related("current_version")
    for journey in journeys:
        slug = journey.trigger_config.get("segment")
        members = Profile.objects.filter(
            pk__in=SegmentMembership.objects.filter(
                segment__slug=slug, exited_at__isnull=True
            ).values("profile_id")
        ).order_by("pk")
        trigger = {"type": "segment_entered", "segment": slug, "replay": True}
        # One transaction per journey: SQLite commits are the slow part.
        with transaction.atomic():
            for profile in members.iterator(chunk_size=1000):
                if enroll(journey, profile, at=at, trigger=trigger):
                    enrolled[journey.slug] += 1
    return enrolled


def replay(clock: datetime, stdout: TextIO) -> None:
    """Enroll, run the engine at ``clock`` and print what each journey did."""
    start = clock.replace(hour=0, minute=0, second=0, microsecond=0)
    backends = {
        **app_settings.CHANNEL_BACKENDS,
        **{
            channel: {"BACKEND": "omnichannel.channels.backends.locmem.LocmemBackend"}
            for channel in LOCMEM_CHANNELS
        },
    }
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        OMNICHANNEL={**_project_settings(), "CHANNEL_BACKENDS": backends},
    ):
        mail.outbox = []
        locmem.outbox.clear()
        with time_machine.travel(start, tick=False):
            enrolled = enroll_segment_members(start)
        advanced = 0
        # The engine runs hour by hour through the day, as the tick would, so a
        # wait until 10:00 local time ends at 10:00, not at the end of the day.
        # The process clock travels too: consent, offer codes and sent_at then
        # agree with the engine's clock.
        hours = int((clock - start).total_seconds() // 3600)
        moments = [start + timedelta(hours=hour) for hour in range(hours + 1)]
        for moment in [*moments, clock]:
            with time_machine.travel(moment, tick=False):
                advanced += run_due(moment)
        stdout.write(
            f"Clock {clock:%Y-%m-%d %H:%M} UTC: {sum(enrolled.values())} customers "
            f"enrolled from their segments, {advanced} advances of runs, "
            f"{len(mail.outbox)} emails and {len(locmem.outbox)} other messages "
            "sent to the in-memory outboxes.\n"
        )
        report(stdout, samples=list(mail.outbox))


def _project_settings() -> dict[str, Any]:
    from django.conf import settings

    return dict(getattr(settings, "OMNICHANNEL", {}))


def report(stdout: TextIO, samples: list[Any] | None = None) -> None:
    """Print per journey its runs, messages sent, and why others were not sent."""
    stdout.write(f"{'journey':<24}{'runs':>7}{'sent':>7}  not sent, with the reason\n")
    for journey in Journey.objects.order_by("pk"):
        runs = Enrollment.objects.filter(journey=journey)
        run_ids = [str(pk) for pk in runs.values_list("pk", flat=True)]
        deliveries = Delivery.objects.filter(
            source_type="journey", source_id__in=run_ids
        )
        statuses = Counter(deliveries.values_list("status", "reason"))
        sent = sum(n for (status, _r), n in statuses.items() if status == "sent")
        reasons: Counter[str] = Counter()
        for (status, reason), count in statuses.items():
            if status != "sent":
                reasons[reason or status] += count
        skipped = StepRun.objects.filter(
            journey=journey, outcome__in=(StepRun.Outcome.SKIPPED, "deferred")
        ).values_list("reason", flat=True)
        reasons.update(skipped)
        if not run_ids:
            detail = _idle_reason(journey)
        else:
            detail = ", ".join(f"{r}: {n}" for r, n in reasons.most_common()) or "-"
        stdout.write(f"{journey.slug:<24}{len(run_ids):>7}{sent:>7}  {detail}\n")
    for message in (samples or [])[:1]:
        stdout.write(
            f"\nFirst email: to {message.to[0]}, subject {message.subject!r}\n"
        )


def _idle_reason(journey: Journey) -> str:
    trigger = journey.trigger_type
    if trigger == "event":
        return (
            f"waits for live {journey.trigger_config.get('event')} events; the "
            "imported history triggers no journey"
        )
    if trigger == "date":
        return "no customer in the data has a birthday on file"
    return f"no customer matched its {journey.get_trigger_type_display()} trigger"
