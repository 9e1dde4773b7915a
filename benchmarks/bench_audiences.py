"""Planning an ad audience sync, against a hand-written read and a bare bulk insert.

Figures, each measured beside its reference in the same run:

- ``audience plan, first sync``: planning a segment whose members are all new to the
  audience (consent read, hashing, diff, inserting the member rows). Reference: one
  hand-written SQL statement that reads the consenting members' email addresses, the
  same Meta normalisation and hashing, and a bare ``bulk_create`` of the same rows.
- ``audience plan, no change``: planning again when nothing changed. Reference: the
  same SQL read and hashing, then a hand-written read of the member rows compared with
  the hashes, which is the least work a diff can do.

The data is generated and seeded: ``customers`` profiles with an email address, all in
one segment, 80 % with ads consent. The run uses a database of its own, created and
dropped through Django's test database machinery, and refreshes PostgreSQL's
statistics after loading it.
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta

from benchmarks.common import Result, setup_django

SEED = 20261204
CONSENT_SHARE = 0.8


def run(customers: int) -> list[Result]:
    setup_django()
    from django.test.utils import setup_databases, teardown_databases

    databases = setup_databases(verbosity=0, interactive=False)
    try:
        return _measure(customers)
    finally:
        teardown_databases(databases, verbosity=0)


def _measure(customers: int) -> list[Result]:
    from django.db.models import F
    from django.utils import timezone

    from omnichannel.audiences import services
    from omnichannel.audiences.models import Audience, AudienceMember, MemberState
    from omnichannel.audiences.platforms.meta import MetaPlatform

    segment, eligible = _generate(customers)
    _analyze()
    audience = Audience.objects.create(
        name="Benchmark", segment=segment, platform="meta", external_id="1"
    )
    platform = MetaPlatform("meta", {})
    at = timezone.now()

    def reset() -> None:
        AudienceMember.objects.filter(audience=audience).delete()

    first = _best(lambda: services.plan_audience(audience, platform, at), reset)
    reference_first = _best(
        lambda: _reference(segment, audience, platform, at, write=True), reset
    )
    assert AudienceMember.objects.count() == eligible

    # As after a sync: every planned row was uploaded.
    services.plan_audience(audience, platform, at)
    AudienceMember.objects.filter(audience=audience).update(
        state=MemberState.ADDED, uploaded=F("pending"), pending=None
    )
    unchanged = _best(lambda: services.plan_audience(audience, platform, at))
    reference_unchanged = _best(
        lambda: _reference(segment, audience, platform, at, write=False)
    )

    note = f"{eligible} eligible members"
    return [
        Result(
            name="audience plan, first sync",
            value=first,
            unit="s",
            reference_value=reference_first,
            reference="SQL read + Meta hashing + bulk_create",
            target="ratio<=1.5",
            customers=customers,
            note=note,
        ),
        Result(
            name="audience plan, no change",
            value=unchanged,
            unit="s",
            reference_value=reference_unchanged,
            reference="SQL reads + Meta hashing + compare",
            target="ratio<=1.5",
            customers=customers,
            note=note,
        ),
    ]


def _best(function, before=None, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Return the fastest of ``repeat`` timings, running ``before`` untimed first."""
    timings = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def _generate(customers: int):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from omnichannel.consent.models import Channel, ConsentRecord
    from omnichannel.profiles.models import Profile
    from omnichannel.segments.models import Segment, SegmentMembership

    rng = random.Random(SEED)
    segment = Segment.objects.create(name="Benchmark", slug="benchmark")
    profiles = Profile.objects.bulk_create(
        (Profile(email=f"customer{n}@example.com") for n in range(customers)),
        batch_size=5000,
    )
    SegmentMembership.objects.bulk_create(
        (SegmentMembership(segment=segment, profile=p) for p in profiles),
        batch_size=5000,
    )
    recorded = timezone.now() - timedelta(days=1)
    consenting = [p for p in profiles if rng.random() < CONSENT_SHARE]
    ConsentRecord.objects.bulk_create(
        (
            ConsentRecord(
                profile=p, channel=Channel.ADS, granted=True, recorded_at=recorded
            )
            for p in consenting
        ),
        batch_size=5000,
    )
    return segment, len(consenting)


def _json(value):  # type: ignore[no-untyped-def]
    return json.loads(value) if isinstance(value, str) else value


def _analyze() -> None:
    """Refresh PostgreSQL's statistics, as autovacuum would after a bulk load."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


MEMBERS_SQL = """
SELECT profile_id, uploaded FROM omnichannel_audiencemember WHERE audience_id = %s
"""

REFERENCE_SQL = """
SELECT m.profile_id, p.email
FROM omnichannel_segmentmembership m
JOIN omnichannel_profile p ON p.id = m.profile_id
WHERE m.segment_id = %s AND m.exited_at IS NULL
  AND p.erased_at IS NULL AND p.merged_into_id IS NULL
  AND (
    SELECT c.granted FROM omnichannel_consentrecord c
    WHERE c.profile_id = m.profile_id AND c.channel = 'ads'
      AND c.purpose = 'marketing' AND c.recorded_at <= %s
    ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1
  )
"""


def _reference(segment, audience, platform, at, *, write: bool) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from omnichannel.audiences.hashing import Contact
    from omnichannel.audiences.models import AudienceMember

    with connection.cursor() as cursor:
        cursor.execute(REFERENCE_SQL, [segment.pk, at])
        rows = [
            (profile_id, platform.hash_contact(Contact(profile_id, email)))
            for profile_id, email in cursor.fetchall()
        ]
    if not write:
        # A diff reads both sides: the member rows and their uploaded hashes.
        desired = dict(rows)
        with connection.cursor() as cursor:
            cursor.execute(MEMBERS_SQL, [audience.pk])
            unchanged = sum(
                1
                for profile_id, uploaded in cursor.fetchall()
                if desired.get(profile_id) == _json(uploaded)
            )
        assert unchanged == len(desired)
    if write:
        AudienceMember.objects.bulk_create(
            (
                AudienceMember(audience=audience, profile_id=pk, pending=hashes)
                for pk, hashes in rows
            ),
            batch_size=500,
        )
