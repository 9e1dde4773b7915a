"""Storing many events at once, as the batch endpoint of the REST API does.

A batch is all-or-nothing: it is stored in one transaction, and an error in any
event stores none of them. Events whose idempotency key was stored before, by an
earlier batch or earlier in the same batch, are skipped and counted as duplicates,
so a resent batch adds nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, OperationalError, models, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from omnichannel.profiles import signals
from omnichannel.profiles.aggregates import AGGREGATE_EVENTS, recompute_aggregates
from omnichannel.profiles.merging import lock_profiles
from omnichannel.profiles.models import Event, Identity, Profile
from omnichannel.profiles.payloads import EventInput
from omnichannel.profiles.services import (
    RETRYABLE_SQLSTATES,
    Identifiers,
    resolve_profile,
)

logger = logging.getLogger(__name__)

ATTEMPTS = 3

GroupKey = tuple[tuple[str, str], ...]


@dataclass
class BatchOutcome:
    """What a batch stored: the new events and the indexes of skipped duplicates."""

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


def store_events(items: Sequence[EventInput]) -> BatchOutcome:
    """Store validated events in one transaction; see the module docstring.

    Runs again when a concurrent request stored one of the idempotency keys or
    merged one of the profiles in the meantime, or deadlocked with this one.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _store(items)
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


def _store(items: Sequence[EventInput]) -> BatchOutcome:
    outcome = BatchOutcome()
    fresh = _skip_duplicates(items, outcome)
    by_uuid = _profiles_by_uuid([items[i] for i in fresh], fresh)
    by_group = _resolve_groups([items[i] for i in fresh if not items[i].profile_uuid])

    profile_ids = set(by_group.values()) | {p.pk for p in by_uuid.values()}
    locked = lock_profiles(profile_ids)
    if any(profile.merged_into_id is not None for profile in locked.values()):
        raise _ProfileMoved
    outcome.profiles = locked

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
    outcome.events = Event.objects.bulk_create(events, batch_size=1000)
    _touch_profiles(outcome)
    for event in outcome.events:
        signals.event_tracked.send(
            sender=Event, event=event, profile=outcome.profiles[event.profile_id]
        )
    logger.info(
        "stored a batch of %d events (%d duplicates skipped, %d profiles)",
        len(outcome.events),
        len(outcome.duplicates),
        len(outcome.profiles),
    )
    return outcome


def _skip_duplicates(items: Sequence[EventInput], outcome: BatchOutcome) -> list[int]:
    keys = [item.idempotency_key for item in items if item.idempotency_key]
    stored = set(
        Event.objects.filter(idempotency_key__in=keys).values_list(
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
    items: list[EventInput], indexes: list[int]
) -> dict[uuid.UUID, Profile]:
    uuids = {item.profile_uuid for item in items if item.profile_uuid is not None}
    if not uuids:
        return {}
    found = {p.uuid: p for p in Profile.objects.filter(uuid__in=uuids)}
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
    """Follow ``merged_into`` to the profile that holds the data now."""
    seen = {profile.pk}
    while profile.merged_into_id is not None and profile.merged_into_id not in seen:
        seen.add(profile.merged_into_id)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


def _group_key(identifiers: Identifiers) -> GroupKey:
    return tuple(sorted(identifiers.pairs))


def _resolve_groups(items: list[EventInput]) -> dict[GroupKey, int]:
    """Map each distinct set of identifiers to a profile id.

    A set whose identifiers all belong to one profile already is looked up in one
    query for the whole batch; the others go through full identity resolution,
    which may create or merge profiles, before the lookup.
    """
    groups: dict[GroupKey, Identifiers] = {}
    for item in items:
        groups.setdefault(_group_key(item.identifiers), item.identifiers)
    sources = {_group_key(item.identifiers): item.source for item in items}

    owners = _owners(groups)
    slow = [key for key in groups if _single_owner(key, owners) is None]
    for key in slow:
        resolve_profile(groups[key], source=sources[key])
    if slow:
        owners = _owners(groups)

    resolved = {}
    for key, identifiers in groups.items():
        owner = _single_owner(key, owners)
        if owner is None:
            # Identifiers that cannot all sit on one profile (two people on one
            # browser) resolve to the profile the rules choose.
            owner = resolve_profile(identifiers, source=sources[key]).profile.pk
        resolved[key] = owner
    return resolved


def _owners(groups: dict[GroupKey, Identifiers]) -> dict[tuple[str, str], int]:
    by_kind: dict[str, set[str]] = {}
    for key in groups:
        for kind, value in key:
            by_kind.setdefault(kind, set()).add(value)
    if not by_kind:
        return {}
    query = models.Q()
    for kind, values in by_kind.items():
        query |= models.Q(kind=kind, value__in=values)
    rows = Identity.objects.filter(query).values_list("kind", "value", "profile_id")
    return {(kind, value): profile_id for kind, value, profile_id in rows}


def _single_owner(key: GroupKey, owners: dict[tuple[str, str], int]) -> int | None:
    found = {owners.get(pair) for pair in key}
    if len(found) == 1 and None not in found:
        return found.pop()
    return None


def _touch_profiles(outcome: BatchOutcome) -> None:
    """Update last-seen times in one UPDATE and order aggregates where needed."""
    latest: dict[int, object] = {}
    with_orders = set()
    for event in outcome.events:
        if event.name in AGGREGATE_EVENTS:
            with_orders.add(event.profile_id)
            continue
        current = latest.get(event.profile_id)
        if current is None or event.occurred_at > current:
            latest[event.profile_id] = event.occurred_at
    if latest:
        seen = Case(
            *[When(pk=pk, then=Value(at)) for pk, at in latest.items()],
            output_field=models.DateTimeField(),
        )
        Profile.objects.filter(pk__in=list(latest)).update(
            last_seen_at=Greatest(Coalesce(F("last_seen_at"), seen), seen)
        )
    if with_orders:
        recompute_aggregates(with_orders)
        refreshed = Profile.objects.in_bulk(list(with_orders))
        outcome.profiles.update(refreshed)
        for profile_id in sorted(with_orders):
            signals.profile_aggregates_changed.send(
                sender=Profile, profile=refreshed[profile_id]
            )
