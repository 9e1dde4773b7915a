"""Storing many events at once, as the batch endpoint of the REST API does.

A batch is all-or-nothing: it is stored in one transaction, and an error in any
event stores none of them. Events whose idempotency key was stored before, by an
earlier batch or earlier in the same batch, are skipped and counted as duplicates,
so a resent batch adds nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from omnichannel.ops import metrics
from omnichannel.profiles import signals
from omnichannel.profiles.aggregates import AGGREGATE_EVENTS, recompute_aggregates
from omnichannel.profiles.models import Event, Identity, Profile
from omnichannel.profiles.payloads import EventInput
from omnichannel.profiles.services import (
    RETRYABLE_SQLSTATES,
    Identifiers,
    announce_events,
    is_passive,
    resolve_profile,
)

logger = logging.getLogger(__name__)

ATTEMPTS = 3

GroupKey = tuple[tuple[str, str], ...]
Kind = Identity.Kind


@dataclass
class BatchOutcome:
    """The events a batch stored, the indexes of skipped duplicates, and profiles."""

    events: list[Event] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    profiles: dict[int, Profile] = field(default_factory=dict)


class BatchRejected(Exception):
    """An event refers to a profile that cannot take it; nothing was stored.

    ``errors`` maps the event index to field errors, as the API reports them.
    """

    def __init__(self, errors: dict[str, dict[str, list[str]]]) -> None:
        super().__init__(f"{len(errors)} events refer to unusable profiles")
        self.errors = errors


def store_events(
    items: Sequence[EventInput], profiles: Mapping[uuid.UUID, Profile] | None = None
) -> BatchOutcome:
    """Store validated events in one transaction; see the module docstring.

    ``profiles`` maps uuids to profiles the caller has loaded, which are then not
    read again. Runs again when a concurrent request stored one of the
    idempotency keys or merged one of the profiles in the meantime, or
    deadlocked with this one. A retry reads every profile by its uuid.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _store(items, profiles if attempt == 1 else None)
        except (IntegrityError, _ProfileMoved) as error:
            if attempt == ATTEMPTS:
                raise
            logger.info(
                "event batch raced (%s) on attempt %d, retrying",
                type(error).__name__,
                attempt,
            )
        except OperationalError as error:
            sqlstate = getattr(error.__cause__, "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt == ATTEMPTS:
                raise
            logger.info("event batch deadlocked on attempt %d, retrying", attempt)
    raise AssertionError("unreachable")


class _ProfileMoved(Exception):
    """A profile was merged between looking it up and locking it."""


def _store(
    items: Sequence[EventInput], known: Mapping[uuid.UUID, Profile] | None = None
) -> BatchOutcome:
    outcome = BatchOutcome()
    fresh = _skip_duplicates(items, outcome)
    by_uuid = _profiles_by_uuid([items[i] for i in fresh], fresh, known or {})
    by_group = _resolve_groups([items[i] for i in fresh if not items[i].profile_uuid])

    profile_ids = set(by_group.values()) | {p.pk for p in by_uuid.values()}
    # A profile the caller loaded may have been merged or erased since. The lock
    # detects it, and the batch then runs again, reading every profile.
    _lock(profile_ids, live=bool(known))

    now = timezone.now()
    events = []
    for index in fresh:
        item = items[index]
        if item.profile_uuid is not None:
            profile_id = by_uuid[item.profile_uuid].pk
        else:
            profile_id = by_group[_group_key(item.identifiers)]
        events.append(
            Event(
                profile_id=profile_id,
                name=item.name,
                occurred_at=item.occurred_at or now,
                received_at=now,
                source=item.source,
                properties=item.properties,
                object_type=item.object_type,
                object_id=item.object_id,
                revenue=item.revenue,
                currency=item.currency,
                idempotency_key=item.idempotency_key,
            )
        )
    outcome.events = _insert_events(events)
    metrics.count_events(len(outcome.events))
    _touch_profiles(outcome)
    announce_events(outcome.events, outcome.profiles)
    logger.info(
        "stored a batch of %d events (%d duplicates skipped, %d profiles)",
        len(outcome.events),
        len(outcome.duplicates),
        len(outcome.profiles),
    )
    return outcome


# Columns written by _insert_events, in the order of its COPY rows.
EVENT_COLUMNS = (
    "id",
    "profile_id",
    "name",
    "occurred_at",
    "received_at",
    "source",
    "properties",
    "object_type",
    "object_id",
    "revenue",
    "currency",
    "idempotency_key",
)


def _insert_events(events: list[Event]) -> list[Event]:
    """Insert the events and set their primary keys.

    PostgreSQL takes the ids from the table's sequence in one query and the rows in
    one COPY, which skips building and parsing a statement with twelve parameters
    per row. Other databases get ``bulk_create``. A duplicate idempotency key
    raises IntegrityError either way.
    """
    if connection.vendor != "postgresql" or not events:
        return Event.objects.bulk_create(events, batch_size=1000)
    table = connection.ops.quote_name(Event._meta.db_table)
    columns = ", ".join(EVENT_COLUMNS)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
            "FROM generate_series(1, %s)",
            [Event._meta.db_table, len(events)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for pk, event in zip(ids, events, strict=True):
                event.pk = pk
                copy.write_row(
                    (
                        pk,
                        event.profile_id,
                        event.name,
                        event.occurred_at,
                        event.received_at,
                        event.source,
                        json.dumps(event.properties),
                        event.object_type,
                        event.object_id,
                        event.revenue,
                        event.currency,
                        event.idempotency_key,
                    )
                )
    for event in events:
        event._state.adding = False
        event._state.db = connection.alias
    return events


def _lock(profile_ids: set[int], *, live: bool = False) -> None:
    """Lock the profiles in key order against concurrent merges.

    FOR NO KEY UPDATE conflicts with the FOR UPDATE lock a merge takes, so a merge
    waits for this batch or this batch waits for the merge. A profile that was
    merged in the meantime makes the batch run again, and so does an erased one
    when ``live`` is set.
    """
    rows = (
        Profile.objects.select_for_update(no_key=True)
        .filter(_among("id", profile_ids))
        .order_by("pk")
        .values_list("pk", "merged_into_id", "erased_at")
    )
    found = 0
    for _pk, merged_into, erased_at in rows:
        found += 1
        if merged_into is not None or (live and erased_at is not None):
            raise _ProfileMoved
    if found != len(profile_ids):
        raise _ProfileMoved


def _skip_duplicates(items: Sequence[EventInput], outcome: BatchOutcome) -> list[int]:
    keys = [item.idempotency_key for item in items if item.idempotency_key]
    stored = set(
        Event.objects.filter(_among("idempotency_key", keys)).values_list(
            "idempotency_key", flat=True
        )
        if keys
        else ()
    )
    fresh = []
    for index, item in enumerate(items):
        key = item.idempotency_key
        if key and key in stored:
            outcome.duplicates.append(index)
            continue
        if key:
            stored.add(key)
        fresh.append(index)
    return fresh


def _profiles_by_uuid(
    items: list[EventInput], indexes: list[int], known: Mapping[uuid.UUID, Profile]
) -> dict[uuid.UUID, Profile]:
    uuids = {item.profile_uuid for item in items if item.profile_uuid is not None}
    if not uuids:
        return {}
    found = {key: known[key] for key in uuids if key in known}
    missing = uuids - set(found)
    if missing:
        found.update((p.uuid, p) for p in Profile.objects.filter(uuid__in=missing))
    errors = {}
    for index, item in zip(indexes, items, strict=True):
        if item.profile_uuid is None:
            continue
        profile = found.get(item.profile_uuid)
        if profile is None:
            errors[str(index)] = {"profile": [_("No profile has this uuid.")]}
        elif profile.erased_at is not None:
            errors[str(index)] = {
                "profile": [
                    _("This profile was erased on request; it takes no events.")
                ]
            }
    if errors:
        raise BatchRejected(errors)
    return {key: _live(profile) for key, profile in found.items()}


def _live(profile: Profile) -> Profile:
    """Follow ``merged_into`` to the profile that has the data now."""
    seen = {profile.pk}
    while profile.merged_into_id is not None and profile.merged_into_id not in seen:
        seen.add(profile.merged_into_id)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


def _group_key(identifiers: Identifiers) -> GroupKey:
    return tuple(sorted(identifiers.pairs))


def _resolve_groups(items: list[EventInput]) -> dict[GroupKey, int]:
    """Map each distinct set of identifiers to a profile id.

    Identifiers that all belong to one profile already are looked up in one query
    for the whole batch. Sets whose identifiers no profile owns become new profiles
    in two bulk inserts. The rest (a known visitor giving a new email,
    identifiers of two profiles) go through full identity resolution, which may
    merge profiles.
    """
    groups: dict[GroupKey, Identifiers] = {}
    sources: dict[GroupKey, str] = {}
    for item in items:
        key = _group_key(item.identifiers)
        groups.setdefault(key, item.identifiers)
        sources.setdefault(key, item.source)

    owners = _owners(groups)
    unknown = [key for key in groups if not any(pair in owners for pair in key)]
    # Two new sets sharing an identifier must go one after the other.
    shared = Counter(pair for key in unknown for pair in key)
    new = [key for key in unknown if all(shared[pair] == 1 for pair in key)]
    slow = [
        key
        for key in groups
        if key not in set(new) and _single_owner(key, owners) is None
    ]
    for key in slow:
        resolve_profile(groups[key], source=sources[key])
    if slow:
        owners = _owners(groups)
    if new:
        owners.update(_create_profiles(new, sources))

    resolved = {}
    for key, identifiers in groups.items():
        owner = _single_owner(key, owners)
        if owner is None:
            # Identifiers that cannot all sit on one profile (two people on one
            # browser) resolve to the profile the rules choose.
            owner = resolve_profile(identifiers, source=sources[key]).profile.pk
        resolved[key] = owner
    return resolved


def _create_profiles(
    keys: list[GroupKey], sources: dict[GroupKey, str]
) -> dict[tuple[str, str], int]:
    """Create one profile per set of identifiers that no profile owns, in bulk.

    Each set comes from one event, so it has at most one identifier per kind and
    stays within every limit. Returns the owner of each new identity.
    """
    profiles = []
    for key in keys:
        values = dict(key)
        profiles.append(
            Profile(email=values.get(Kind.EMAIL, ""), phone=values.get(Kind.PHONE, ""))
        )
    Profile.objects.bulk_create(profiles)
    now = timezone.now()
    Identity.objects.bulk_create(
        [
            Identity(
                profile=profile,
                kind=kind,
                value=value,
                source=sources[key][:32],
                created_at=now,
                last_seen_at=now,
            )
            for key, profile in zip(keys, profiles, strict=True)
            for kind, value in key
        ]
    )
    return {
        pair: profile.pk
        for key, profile in zip(keys, profiles, strict=True)
        for pair in key
    }


def _owners(groups: dict[GroupKey, Identifiers]) -> dict[tuple[str, str], int]:
    by_kind: dict[str, set[str]] = {}
    for key in groups:
        for kind, value in key:
            by_kind.setdefault(kind, set()).add(value)
    if not by_kind:
        return {}
    query = models.Q()
    for kind, values in by_kind.items():
        query |= models.Q(_among("value", values), kind=kind)
    rows = Identity.objects.filter(query).values_list("kind", "value", "profile_id")
    return {(kind, value): profile_id for kind, value, profile_id in rows}


def _among(column: str, values: Collection[Any]) -> Any:
    """Return a filter for rows whose ``column`` is one of ``values``.

    PostgreSQL gets ``column = ANY(%s)`` with one array parameter. Building and
    sending ``IN (%s, %s, ...)`` for a thousand values took longer than the query.
    """
    if connection.vendor != "postgresql":
        return models.Q(**{f"{column}__in": values})
    return models.ExpressionWrapper(
        RawSQL(f"{connection.ops.quote_name(column)} = ANY(%s)", [list(values)]),
        output_field=models.BooleanField(),
    )


def _single_owner(key: GroupKey, owners: dict[tuple[str, str], int]) -> int | None:
    found = {owners.get(pair) for pair in key}
    if len(found) == 1 and None not in found:
        return found.pop()
    return None


def _touch_profiles(outcome: BatchOutcome) -> None:
    """Update last-seen times and, where orders came in, order aggregates.

    Passive events (the app's own journey events, imports, messages sent) do not
    move ``last_seen_at``, as in ``track()``.
    """
    latest: dict[int, datetime] = {}
    with_orders = set()
    for event in outcome.events:
        if event.name in AGGREGATE_EVENTS:
            with_orders.add(event.profile_id)
            continue
        if is_passive(event):
            continue
        current = latest.get(event.profile_id)
        if current is None or event.occurred_at > current:
            latest[event.profile_id] = event.occurred_at
    if latest:
        _update_last_seen(latest)
    if with_orders:
        recompute_aggregates(with_orders)
        refreshed = Profile.objects.in_bulk(list(with_orders))
        outcome.profiles.update(refreshed)
        for profile_id in sorted(with_orders):
            signals.profile_aggregates_changed.send(
                sender=Profile, profile=refreshed[profile_id]
            )


def _update_last_seen(latest: dict[int, datetime]) -> None:
    """Move ``last_seen_at`` forward to the given times, never back.

    PostgreSQL gets one UPDATE joined to two arrays, ids and times, in key order;
    other databases get one UPDATE per distinct time. An UPDATE with a CASE of a
    thousand branches took over a second to build in the ORM.
    """
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Profile._meta.db_table)
        ordered = sorted(latest.items())
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS profile SET last_seen_at = seen.at "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS seen (id, at) "
                "WHERE profile.id = seen.id AND (profile.last_seen_at IS NULL "
                "OR profile.last_seen_at < seen.at)",
                [[pk for pk, _at in ordered], [at for _pk, at in ordered]],
            )
        return
    by_time: dict[datetime, list[int]] = {}
    for profile_id, at in latest.items():
        by_time.setdefault(at, []).append(profile_id)
    for at, profile_ids in by_time.items():
        Profile.objects.filter(pk__in=profile_ids).filter(
            models.Q(last_seen_at__isnull=True) | models.Q(last_seen_at__lt=at)
        ).update(last_seen_at=at)
