"""Planning an ad audience sync, against a hand-written read and a bare bulk insert.

Figures, each measured beside its reference in the same run:

- ``audience plan, first sync``: planning a segment whose members are all new to the
  audience (consent read, hashing, diff, inserting the member rows). Reference: one
  hand-written SQL statement that reads the consenting members' contact fields, the
  same Meta normalisation and hashing, and a bare ``bulk_create`` of the same rows.
- ``audience plan, no change``: planning again when nothing changed. Reference: the
  same SQL read and hashing, then a hand-written read of the member rows compared with
  the hashes, which is the least work a diff can do.

The data is generated in SQL with a fixed seed: the profiles of the standard data
set (``benchmarks.dataset``, without its events) with an email address each, all
in one segment, 80 % with ads consent. The run uses a database of its own, created and
dropped through Django's test database machinery, and refreshes PostgreSQL's
statistics after loading it.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from benchmarks import dataset
from benchmarks.common import Result, setup_django
from benchmarks.dataset import insert_select

SEED = 0.20261204
CONSENT_SHARE = 0.8
# Each timing is the best of this many runs; one run above 100k customers, where a
# plan takes minutes.
REPEAT_UP_TO_100K = 3


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

    repeat = REPEAT_UP_TO_100K if customers <= 100_000 else 1
    reference_first = _best(
        lambda: _reference(segment, audience, platform, at, write=True), reset, repeat
    )
    # Planned last, so that its rows stay for the next figure.
    first = _best(lambda: services.plan_audience(audience, platform, at), reset, repeat)
    assert AudienceMember.objects.count() == eligible

    # As after a sync: every planned row was uploaded.
    AudienceMember.objects.filter(audience=audience).update(
        state=MemberState.ADDED, uploaded=F("pending"), pending=None
    )
    unchanged = _best(
        lambda: services.plan_audience(audience, platform, at), repeat=repeat
    )
    reference_unchanged = _best(
        lambda: _reference(segment, audience, platform, at, write=False),
        repeat=repeat,
    )

    note = f"{eligible} eligible members; best of {repeat} runs"
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
    from django.db import connection
    from django.utils import timezone

    from omnichannel.consent.models import Channel, ConsentRecord
    from omnichannel.segments.models import Segment, SegmentMembership

    segment = Segment.objects.create(name="Benchmark", slug="benchmark")
    dataset.generate_profiles(customers, emails=True)
    insert_select(
        SegmentMembership,
        {"segment_id": "%(segment)s", "profile_id": "id"},
        "FROM omnichannel_profile p ORDER BY p.id",
        {"segment": segment.pk},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [SEED])
    consenting = insert_select(
        ConsentRecord,
        {
            "profile_id": "id",
            "channel": "%(channel)s",
            "granted": "TRUE",
            "recorded_at": "%(recorded)s",
        },
        "FROM omnichannel_profile p WHERE random() < %(share)s ORDER BY p.id",
        {
            "channel": Channel.ADS.value,
            "recorded": timezone.now() - timedelta(days=1),
            "share": CONSENT_SHARE,
        },
    )
    return segment, consenting


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
SELECT m.profile_id, p.email, p.phone, p.first_name, p.last_name, p.country
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
            (values[0], platform.hash_contact(Contact(*values)))
            for values in cursor.fetchall()
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
