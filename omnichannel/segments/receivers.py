"""Signal handlers that keep memberships current; connected by the app's ``ready()``.

Handlers run inside the transaction that made the change. They look up which
segments the change can affect and, if any, queue a refresh of that one profile
after commit, passing ids. Fixture loads (``raw``) are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from omnichannel.exceptions import SegmentInUse
from omnichannel.profiles.models import Event, Profile
from omnichannel.profiles.services import AGGREGATE_EVENTS
from omnichannel.profiles.signals import (
    events_tracked,
    profile_aggregates_changed,
    profile_merged,
)
from omnichannel.segments.conditions import ANY
from omnichannel.segments.index import invalidate_index, segment_index
from omnichannel.segments.models import Segment

logger = logging.getLogger(__name__)

#: Profile fields that recomputing the order aggregates can change.
AGGREGATE_FIELDS = (
    "order_count",
    "total_spent",
    "average_order_value",
    "first_order_at",
    "last_order_at",
)


def schedule_refresh(
    profile_id: int,
    *,
    event: str | None = None,
    fields: Iterable[str] = (),
    sources: Iterable[str] = (),
) -> bool:
    """Queue a refresh of one profile after commit if some segment can be affected.

    Returns whether a refresh was queued.
    """
    from omnichannel.segments.tasks import refresh_profile_task

    fields, sources = list(fields), list(sources)
    affected = segment_index().affected(
        events=[event] if event else [], fields=fields, sources=sources
    )
    if not affected:
        return False
    arguments = {
        "event": event,
        "fields": fields or None,
        "sources": sources or None,
    }
    transaction.on_commit(
        lambda: refresh_profile_task.delay(profile_id, **arguments), robust=True
    )
    return True


def schedule_refreshes(
    changes: Mapping[int, tuple[Iterable[str], Iterable[str]]],
) -> int:
    """Queue one refresh task after commit for the profiles some segment can notice.

    ``changes`` maps profile ids to the event names and profile fields that
    changed for them. Returns the number of profiles queued.
    """
    from omnichannel.segments.tasks import refresh_profiles_task

    index = segment_index()
    if not index.segments:
        return 0
    affected_by: dict[tuple[frozenset[str], frozenset[str]], bool] = {}
    queued: list[list[Any]] = []
    for profile_id, (events, fields) in changes.items():
        key = (frozenset(events), frozenset(fields))
        if key not in affected_by:
            affected_by[key] = bool(index.affected(events=key[0], fields=key[1]))
        if affected_by[key]:
            queued.append([profile_id, sorted(key[0]), sorted(key[1])])
    if queued:
        transaction.on_commit(lambda: refresh_profiles_task.delay(queued), robust=True)
    return len(queued)


@receiver(events_tracked, sender=Event, dispatch_uid="omnichannel-segments-events")
def refresh_on_events(sender: Any, events: list[Event], **kwargs: Any) -> None:
    # Order events change the aggregates, announced by their own signal; any other
    # event moves last_seen_at.
    changes: dict[int, tuple[set[str], set[str]]] = {}
    for event in events:
        names, fields = changes.setdefault(event.profile_id, (set(), set()))
        names.add(event.name)
        if event.name not in AGGREGATE_EVENTS:
            fields.add("last_seen_at")
    schedule_refreshes(changes)


@receiver(
    profile_aggregates_changed,
    sender=Profile,
    dispatch_uid="omnichannel-segments-aggregates",
)
def refresh_on_aggregates(sender: Any, profile: Profile, **kwargs: Any) -> None:
    schedule_refresh(profile.pk, fields=AGGREGATE_FIELDS)


@receiver(profile_merged, sender=Profile, dispatch_uid="omnichannel-segments-merge")
def refresh_after_merge(sender: Any, survivor: Profile, **kwargs: Any) -> None:
    schedule_refresh(survivor.pk, fields=[ANY])


@receiver(post_save, sender=Profile, dispatch_uid="omnichannel-segments-profile")
def refresh_on_profile_save(
    sender: Any,
    instance: Profile,
    created: bool,
    raw: bool = False,
    update_fields: Iterable[str] | None = None,
    **kwargs: Any,
) -> None:
    if raw:
        return
    if created or update_fields is None:
        fields = [ANY]
    else:
        fields = sorted(set(update_fields) - {"updated_at"})
    if fields:
        schedule_refresh(instance.pk, fields=fields)


@receiver(
    post_save,
    sender="omnichannel.ConsentRecord",
    dispatch_uid="omnichannel-segments-consent",
)
def refresh_on_consent(
    sender: Any, instance: Any, raw: bool = False, **kwargs: Any
) -> None:
    if not raw:
        schedule_refresh(instance.profile_id, sources=["consent"])


@receiver(post_save, sender=Segment, dispatch_uid="omnichannel-segments-saved")
def rebuild_on_rule_change(
    sender: Any, instance: Segment, raw: bool = False, **kwargs: Any
) -> None:
    invalidate_index()
    previous = getattr(instance, "_previous_state", None)
    changed = previous is None or previous[1:] != (instance.rules, instance.is_active)
    requested = getattr(instance, "_rebuild_on_save", True)
    if raw or not changed or not instance.is_active or not requested:
        return
    from omnichannel.segments.tasks import rebuild_segment_task

    segment_id = instance.pk
    transaction.on_commit(lambda: rebuild_segment_task.delay(segment_id), robust=True)


@receiver(pre_delete, sender=Segment, dispatch_uid="omnichannel-segments-protect")
def protect_referenced_segment(sender: Any, instance: Segment, **kwargs: Any) -> None:
    users = referencing_segments(instance.slug)
    if users:
        raise SegmentInUse(instance.slug, users)


@receiver(post_delete, sender=Segment, dispatch_uid="omnichannel-segments-deleted")
def forget_deleted_segment(sender: Any, **kwargs: Any) -> None:
    invalidate_index()


def referencing_segments(slug: str) -> list[str]:
    """Return the slugs of the other segments whose rules refer to ``slug``."""
    from omnichannel.segments.graph import references

    return sorted(
        other_slug
        for other_slug, rules in Segment.objects.exclude(slug=slug).values_list(
            "slug", "rules"
        )
        if slug in references(rules)
    )
