"""Condition types, their registry, and the per-profile evaluation state.

A rule is a tree: ``{"all": [...]}``, ``{"any": [...]}`` and ``{"not": node}`` combine
nodes, and every leaf is a condition ``{"type": NAME, ...}`` handled by the condition
type registered under NAME. Each condition type both compiles a leaf to a ``Q`` over
Profile and evaluates it in Python for one profile; the two must agree.

Other domains add condition types with :func:`register`, usually from their app's
``ready()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.models import Q
from django.utils.functional import Promise

if TYPE_CHECKING:
    from omnichannel.profiles.models import Profile

#: In ``Dependencies.events`` or ``Dependencies.fields``: any event, any field.
ANY = "*"


@dataclass(frozen=True)
class Dependencies:
    """The events, fields, stores and segments that can change a condition's result."""

    #: Event names whose tracking can change the result (``ANY`` for every event).
    events: frozenset[str] = frozenset()
    #: Profile fields the condition reads.
    fields: frozenset[str] = frozenset()
    #: Other stores read, such as ``"rfm"``, ``"prediction"`` or ``"consent"``.
    sources: frozenset[str] = frozenset()
    #: Slugs of the segments whose membership the condition reads.
    segments: frozenset[str] = frozenset()
    #: True when the result can change with the clock alone.
    time: bool = False

    def __or__(self, other: Dependencies) -> Dependencies:
        return Dependencies(
            events=self.events | other.events,
            fields=self.fields | other.fields,
            sources=self.sources | other.sources,
            segments=self.segments | other.segments,
            time=self.time or other.time,
        )

    def matches(
        self,
        *,
        events: Iterable[str] = (),
        fields: Iterable[str] = (),
        sources: Iterable[str] = (),
    ) -> bool:
        """Tell whether a change to these events, fields or sources can matter."""
        events, fields = set(events), set(fields)
        if events and (ANY in self.events or self.events & events):
            return True
        if fields and (ANY in fields or self.fields & fields):
            return True
        return bool(self.sources & set(sources))


#: Sources that batch jobs recompute without sending events; segments reading them
#: are rebuilt by the periodic task.
BATCH_SOURCES = frozenset({"rfm", "prediction"})


def events_in_windows(windows: Mapping[str, datetime | None], now: datetime) -> Any:
    """Return the events queryset of the names in ``windows``, each from its
    earliest needed time (``None`` for ever) up to ``now``, for every profile."""
    from omnichannel.profiles.models import Event

    query = Q()
    for name, since in windows.items():
        query |= Q(name=name) if since is None else Q(name=name, occurred_at__gte=since)
    return Event.objects.filter(query, occurred_at__lte=now)


class Evaluation:
    """One profile at one moment, with the facts that conditions read loaded once.

    ``context`` contains facts that the caller adds, such as the enrollment a journey
    branch is evaluated for. Condition types that other domains register read it.
    """

    def __init__(
        self,
        profile: Profile,
        now: datetime,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.profile = profile
        self.now = now
        self.context: Mapping[str, Any] = context or {}
        self._events: dict[str, tuple[datetime | None, list[Any]]] = {}
        self._memberships: set[str] | None = None
        self._consent: list[Any] | None = None

    def events(self, name: str, since: datetime | None) -> list[Any]:
        """Return the profile's events called ``name`` from ``since`` up to now.

        Each item has ``occurred_at`` and ``properties``; ``since=None`` means ever.
        """
        cached = self._events.get(name)
        if cached is None or not _covers(cached[0], since):
            self.prefetch_events({name: since})
            cached = self._events[name]
        if since is None:
            return cached[1]
        return [event for event in cached[1] if event.occurred_at >= since]

    def prefetch_events(self, windows: Mapping[str, datetime | None]) -> None:
        """Load the events of several names in one query; ``windows`` maps each
        name to the earliest time needed (``None`` for all)."""
        rows = (
            events_in_windows(windows, self.now)
            .filter(profile_id=self.profile.pk)
            .only("name", "occurred_at", "properties")
            .order_by()
        )
        self.store_events(windows, rows)

    def store_events(
        self, windows: Mapping[str, datetime | None], rows: Iterable[Any]
    ) -> None:
        """Keep ``rows``, the profile's events in ``windows`` up to now, which the
        caller loaded, as ``prefetch_events`` would have."""
        loaded: dict[str, list[Any]] = {name: [] for name in windows}
        for event in rows:
            loaded[event.name].append(event)
        for name, since in windows.items():
            self._events[name] = (since, loaded[name])

    @property
    def memberships(self) -> set[str]:
        """Slugs of the segments the profile is a member of now."""
        if self._memberships is None:
            from omnichannel.segments.models import SegmentMembership

            self._memberships = set(
                SegmentMembership.objects.filter(
                    profile_id=self.profile.pk, exited_at__isnull=True
                ).values_list("segment__slug", flat=True)
            )
        return self._memberships

    def set_memberships(self, slugs: Iterable[str]) -> None:
        """Replace the membership set, for callers that already hold it."""
        self._memberships = set(slugs)

    @property
    def consent_records(self) -> list[Any]:
        """The profile's consent ledger rows recorded up to now."""
        if self._consent is None:
            from django.apps import apps

            record = apps.get_model("omnichannel", "ConsentRecord")
            self._consent = list(
                record.objects.filter(
                    profile_id=self.profile.pk, recorded_at__lte=self.now
                ).only("channel", "purpose", "granted", "recorded_at")
            )
        return self._consent

    def related(self, name: str) -> Any:
        """Return the profile's one-to-one row called ``name``, or None."""
        try:
            return getattr(self.profile, name)
        except self.profile._meta.get_field(name).related_model.DoesNotExist:
            return None


def _covers(loaded_since: datetime | None, since: datetime | None) -> bool:
    if loaded_since is None:
        return True
    return since is not None and since >= loaded_since


@dataclass
class Outcome:
    """The result of one node for one profile, with the reason in words."""

    result: bool
    reason: str = ""


@dataclass
class Explanation:
    """One line of :func:`explain`: a node of the rule and its result."""

    path: str
    depth: int
    description: str
    result: bool
    reason: str = ""
    children: list[Explanation] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "depth": self.depth,
            "description": self.description,
            "result": self.result,
            "reason": self.reason,
        }


class ConditionType:
    """Base class of condition types.

    A subclass sets ``name`` and ``label`` and implements :meth:`validate`,
    :meth:`to_q`, :meth:`evaluate`, :meth:`describe` and :meth:`dependencies`.
    ``to_q`` and ``evaluate`` must give the same result for every profile, and the
    ``Q`` must never be NULL for a row (wrap nullable comparisons), so that ``not``
    inverts it exactly.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str | Promise] = ""
    #: Group shown in the admin rule builder.
    category: ClassVar[str | Promise] = ""

    def is_available(self) -> bool:
        """Tell whether the models this type reads are installed."""
        return True

    def validate(self, node: Mapping[str, Any], path: str, context: Any) -> None:
        """Raise InvalidRule, naming the path, if ``node`` is not a valid leaf.

        ``context`` is the :class:`~omnichannel.segments.conditions.rules.Validation`
        in progress, for types that look up other segments.
        """
        raise NotImplementedError

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        """Return a ``Q`` over Profile that matches the profiles meeting ``node``."""
        raise NotImplementedError

    def evaluate(self, node: Mapping[str, Any], evaluation: Evaluation) -> bool:
        """Tell whether the profile of ``evaluation`` meets ``node``."""
        return self.explain(node, evaluation).result

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        """Return the result for one profile with the fact that decided it."""
        return Outcome(self.evaluate(node, evaluation))

    def describe(self, node: Mapping[str, Any]) -> str:
        """Return the condition in words, for the admin and for explanations."""
        return str(self.label)

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        """Return what can change the result of ``node``."""
        return Dependencies(time=True)

    def schema(self) -> dict[str, Any]:
        """Return the JSON Schema of a leaf of this type."""
        return {
            "type": "object",
            "properties": {"type": {"const": self.name}},
            "required": ["type"],
        }


_registry: dict[str, ConditionType] = {}


def register(condition_type: ConditionType, *, replace: bool = False) -> ConditionType:
    """Add a condition type to the language; return it.

    Registering a second type under a taken name raises ValueError unless
    ``replace`` is true.
    """
    name = condition_type.name
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(
            f"Condition type name {name!r} must be letters, digits and underscores."
        )
    if name in _registry and not replace and _registry[name] is not condition_type:
        raise ValueError(
            f"A condition type named {name!r} is already registered; pass "
            "replace=True to override it."
        )
    _registry[name] = condition_type
    return condition_type


def unregister(name: str) -> None:
    """Remove a condition type; rules that use it stop validating."""
    _registry.pop(name, None)


def condition_types() -> dict[str, ConditionType]:
    """Return the registered condition types by name."""
    return dict(_registry)


def get_condition_type(name: str) -> ConditionType | None:
    return _registry.get(name)
