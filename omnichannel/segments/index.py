"""Which active segments a change can affect, cached per process.

The index is rebuilt when a segment is saved or deleted in this process, and when the
version number in Django's cache changes because another process that shares the
cache saved one. It is also rebuilt after ``INDEX_MAX_AGE`` seconds at the latest, so
a process whose cache is not shared is stale for at most that long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.conditions import Dependencies, dependencies

logger = logging.getLogger(__name__)

VERSION_KEY = "omnichannel:segments:index-version"
INDEX_MAX_AGE = 60.0


@dataclass(frozen=True)
class IndexedSegment:
    """An active segment with what can change its members."""

    id: int
    slug: str
    rules: Mapping[str, Any]
    #: Dependencies of the segment's own rule and of every segment it reads.
    dependencies: Dependencies


class SegmentIndex:
    """Active segments in rebuild order, with their dependencies."""

    def __init__(
        self,
        segments: list[IndexedSegment],
        one_to_one_names: list[str],
        slugs: dict[int, str],
    ) -> None:
        self.segments = segments
        self.one_to_one_names = one_to_one_names
        #: Slug of every segment, active or not, by primary key.
        self.slugs = slugs

    def all(self) -> list[IndexedSegment]:
        return list(self.segments)

    def affected(
        self,
        *,
        events: Iterable[str] = (),
        fields: Iterable[str] = (),
        sources: Iterable[str] = (),
    ) -> list[IndexedSegment]:
        """Return the segments whose members a change of these can alter."""
        events, fields, sources = list(events), list(fields), list(sources)
        return [
            entry
            for entry in self.segments
            if entry.dependencies.matches(events=events, fields=fields, sources=sources)
        ]


_lock = threading.Lock()
_cached: tuple[Any, float, SegmentIndex] | None = None


def segment_index() -> SegmentIndex:
    """Return the index of active segments, rebuilding it when stale."""
    global _cached
    version = cache.get(VERSION_KEY)
    cached = _cached
    if (
        cached is not None
        and cached[0] == version
        and time.monotonic() - cached[1] < INDEX_MAX_AGE
    ):
        return cached[2]
    index = _build()
    with _lock:
        _cached = (version, time.monotonic(), index)
    return index


def invalidate_index() -> None:
    """Mark the index stale in this process and in those sharing the cache."""
    global _cached
    with _lock:
        _cached = None
    cache.set(VERSION_KEY, time.time_ns(), None)


def _build() -> SegmentIndex:
    from omnichannel.profiles.models import Profile
    from omnichannel.segments.graph import rebuild_order
    from omnichannel.segments.models import Segment

    every = list(Segment.objects.values_list("id", "slug", "rules", "is_active"))
    # Segments without a rule ({}) have their members added by hand.
    rows = [(pk, slug, rule) for pk, slug, rule, active in every if active and rule]
    rules = {slug: rule for _id, slug, rule in rows}
    ids = {slug: pk for pk, slug, _rule in rows}
    own = {}
    for slug, rule in list(rules.items()):
        try:
            own[slug] = dependencies(rule)
        except InvalidRule as error:
            # Left out of incremental refreshes until its rule is fixed (E021).
            logger.error("segment %s left out of refreshes: %s", slug, error)
            del rules[slug]
    effective: dict[str, Dependencies] = {}
    segments = []
    for slug in rebuild_order(rules):
        combined = own[slug]
        for referenced in own[slug].segments:
            if referenced in effective:
                combined = combined | effective[referenced]
        effective[slug] = combined
        segments.append(IndexedSegment(ids[slug], slug, rules[slug], combined))
    one_to_one = [
        relation.get_accessor_name()
        for relation in Profile._meta.related_objects
        if relation.one_to_one and relation.related_model is not Profile
    ]
    return SegmentIndex(segments, one_to_one, {pk: slug for pk, slug, *_rest in every})
