"""The visitor facts of one request, loaded once and kept on the request.

:class:`PageContext` serves every personalisation tag of a page. Its first use runs
at most two queries: the banners of every placement (often from the cache), then the
visitor's profile with its segment memberships and one boolean column per distinct
banner rule, because each rule compiles to a ``Q`` through the segment condition
language. Pop-ups and
on-site messages are read only by the tags that show them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    CharField,
    Exists,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.exceptions import InvalidRule
from omnichannel.personalisation import prepared
from omnichannel.personalisation.models import Banner, Placement
from omnichannel.profiles.models import Identity, Profile
from omnichannel.segments.conditions import Evaluation, compile_rule, evaluate, leaves
from omnichannel.segments.models import SegmentMembership

logger = logging.getLogger(__name__)

REQUEST_ATTRIBUTE = "_omnichannel_page"
BANNER_CACHE_KEY = "omnichannel:personalisation:banners"
EVERYONE_KEY = json.dumps({"all": []})


class SlugList(Aggregate):
    """Comma-separated values of a text column; slugs never contain commas."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s)"
    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(%(expressions)s, ',')",
            **extra,
        )


class NoProfileEvaluation(Evaluation):
    """An evaluation for a visitor without a profile: no events, segments or consent.

    It reads nothing from the database, so rules such as ``not member of X`` still
    return their result for a first-time visitor.
    """

    def __init__(self, now: datetime) -> None:
        super().__init__(Profile(), now)
        self._memberships = set()
        self._consent = []

    def events(self, name: str, since: datetime | None) -> list[Any]:
        return []

    def related(self, name: str) -> Any:
        return None


def rule_key(rules: Any) -> str:
    """Return a canonical text of a rule, so equal rules are evaluated once."""
    return json.dumps(rules, sort_keys=True, separators=(",", ":"))


def experiment_keys(rules: Mapping[str, Any]) -> list[str]:
    """Return the keys of the experiments a rule reads, in rule order."""
    keys: list[str] = []
    try:
        for leaf in leaves(rules):
            key = leaf.get("experiment") if leaf.get("type") == "experiment" else None
            if isinstance(key, str) and key not in keys:
                keys.append(key)
    except (AttributeError, TypeError):
        return keys
    return keys


def membership_column() -> Subquery:
    """Return the visitor's current segment slugs, comma-separated, as a column."""
    slugs = (
        SegmentMembership.objects.filter(profile=OuterRef("pk"), exited_at__isnull=True)
        .order_by()
        .values("profile")
        .annotate(slugs=SlugList("segment__slug"))
        .values("slugs")
    )
    return Subquery(slugs, output_field=CharField())


def experiment_columns(keys: list[str]) -> dict[str, Any]:
    """Return one column per experiment key: whether the visitor is assigned."""
    from omnichannel.experiments.models import Assignment

    return {
        f"omni_assigned_{index}": Exists(
            Assignment.objects.filter(profile=OuterRef("pk"), experiment__key=key)
        )
        for index, key in enumerate(keys)
    }


def visitor_queryset(
    identifiers: Mapping[str, Any],
    rules_by_key: Mapping[str, Any],
    experiments: list[str],
    now: datetime,
) -> tuple[Any, dict[str, str]]:
    """Return the one-row query of the visitor's facts and the rule columns by key."""
    columns, names = rule_columns(rules_by_key, now)
    queryset = (
        Profile.objects.filter(profile_filter(identifiers))
        .annotate(
            omni_segments=membership_column(),
            **columns,
            **experiment_columns(experiments),
        )
        .order_by(*user_first(identifiers))[:1]
    )
    return queryset, names


def rule_columns(
    rules_by_key: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    """Compile rules to boolean columns; return the columns and their names by key.

    A rule that does not compile (saved around validation, or naming a removed
    condition type) gets no column, so it matches nobody; the error is logged.
    """
    columns: dict[str, Any] = {}
    names: dict[str, str] = {}
    for index, (key, rules) in enumerate(rules_by_key.items()):
        try:
            query = compile_rule(rules, now)
        except (InvalidRule, KeyError, TypeError, ValueError, AttributeError):
            logger.exception("a personalisation rule does not compile: %s", key[:200])
            continue
        name = f"omni_rule_{index}"
        columns[name] = Case(
            When(query, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        names[key] = name
    return columns, names


def visitor_identifiers(request: Any) -> dict[str, Any] | None:
    """Return what finds the request's profile, or None for no identifier.

    Keys: ``pk`` for a profile the request already resolved, else ``user`` (the
    signed-in user's pk) and ``visitor`` (the visitor cookie), either may be None.
    """
    cached = getattr(request, "omnichannel_profile", None)
    if cached is not None and cached.pk is not None:
        return {"pk": cached.pk, "user": None, "visitor": None}
    user = getattr(request, "user", None)
    user_pk = user.pk if user is not None and user.is_authenticated else None
    visitor_id = getattr(request, "omnichannel_visitor_id", None) or None
    if user_pk is None and visitor_id is None:
        return None
    return {"pk": None, "user": user_pk, "visitor": visitor_id}


def profile_filter(identifiers: Mapping[str, Any]) -> Q:
    """Return the filter finding the profile of ``visitor_identifiers``."""
    if identifiers["pk"] is not None:
        return Q(pk=identifiers["pk"])
    query = Q(pk__in=[])
    if identifiers["user"] is not None:
        query |= Q(user_id=identifiers["user"])
    if identifiers["visitor"] is not None:
        # An IN over the unique (kind, value) index, not a correlated EXISTS, so the
        # database finds the one row instead of testing every profile.
        owners = Identity.objects.filter(
            kind=Identity.Kind.VISITOR, value=identifiers["visitor"]
        ).values("profile_id")
        query |= Q(pk__in=owners)
    return query


def user_first(identifiers: Mapping[str, Any]) -> list[Any]:
    """Order a signed-in user's own profile before the visitor cookie's."""
    if identifiers["user"] is not None:
        return [
            Case(When(user_id=identifiers["user"], then=Value(0)), default=Value(1)),
            "pk",
        ]
    return ["pk"]


def load_banners() -> list[Banner]:
    """Return the active banners and every fallback, highest priority first.

    Schedules are left to the caller, so the list stays true as time passes.
    """
    fallback_ids = Placement.objects.filter(fallback__isnull=False).values(
        "fallback_id"
    )
    return list(
        Banner.objects.filter(Q(is_active=True) | Q(pk__in=fallback_ids))
        .select_related("placement")
        .order_by("-priority", "id")
    )


def cached_banners() -> list[Banner]:
    """Return :func:`load_banners`, kept in the default cache between edits.

    ``PERSONALISATION_CACHE_TIMEOUT`` bounds how long a copy lives; saving or
    deleting a banner or placement clears it after the transaction commits.
    """
    timeout = app_settings.PERSONALISATION_CACHE_TIMEOUT.total_seconds()
    if timeout <= 0:
        return load_banners()
    banners = cache.get(BANNER_CACHE_KEY)
    if banners is None:
        banners = load_banners()
        cache.set(BANNER_CACHE_KEY, banners, timeout)
    return banners


def clear_banner_cache() -> None:
    """Forget the cached banners, so the next page reads them again."""
    cache.delete(BANNER_CACHE_KEY)


class PageContext:
    """The visitor and the live banners of one request, each loaded once."""

    def __init__(self, request: Any, now: datetime | None = None) -> None:
        self.request = request
        self.now = now or timezone.now()
        self._loaded = False
        self.failed = False
        self.profile: Profile | None = None
        self.memberships: frozenset[str] = frozenset()
        self.banners: dict[str, list[Banner]] = {}
        self.fallbacks: dict[str, Banner] = {}
        self._results: dict[str, bool] = {}
        self._experiment_names: dict[str, str] = {}
        self.shown: list[Banner] = []

    # Loading --------------------------------------------------------------------

    def load(self) -> None:
        """Load the live banners and the visitor's facts; at most two queries.

        The banners come from the cache when ``PERSONALISATION_CACHE_TIMEOUT`` allows,
        which leaves one query.
        """
        if self._loaded:
            return
        self._loaded = True
        try:
            self._load_banners()
            self._load_visitor(self._banner_rules())
        except DatabaseError:
            self.failed = True
            logger.exception("loading personalisation for %s failed", self._where())

    def _where(self) -> str:
        return str(getattr(self.request, "path", "-"))[:200]

    def _load_banners(self) -> None:
        for banner in cached_banners():
            placement = banner.placement
            if placement.fallback_id == banner.pk:
                self.fallbacks[placement.key] = banner
            if banner.is_live(self.now):
                self.banners.setdefault(placement.key, []).append(banner)

    def _banner_rules(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        for banners in self.banners.values():
            for banner in banners:
                rules.setdefault(rule_key(banner.rules), banner.rules)
        return rules

    def _load_visitor(self, rules_by_key: Mapping[str, Any]) -> None:
        identifiers = visitor_identifiers(self.request)
        if identifiers is None:
            self._evaluate_without_profile(rules_by_key)
            return
        experiments = self._experiment_keys(rules_by_key)
        row, names = prepared.fetch_visitor(
            identifiers, rules_by_key, experiments, self.now
        )

        self._experiment_names = {
            f"omni_assigned_{index}": key for index, key in enumerate(experiments)
        }
        if row is None:
            self._evaluate_without_profile(rules_by_key)
            return

        self.profile = row
        slugs = getattr(row, "omni_segments", None) or ""
        self.memberships = frozenset(slug for slug in slugs.split(",") if slug)
        for key, name in names.items():
            self._results[key] = bool(getattr(row, name))
        for key in rules_by_key:
            self._results.setdefault(key, False)

        unassigned = [
            key
            for name, key in self._experiment_names.items()
            if not getattr(row, name, True)
        ]
        if unassigned:
            self._assign(row, unassigned, rules_by_key)
        if self.request is not None and not hasattr(
            self.request, "omnichannel_profile"
        ):
            self.request.omnichannel_profile = row

    @staticmethod
    def _experiment_keys(rules_by_key: Mapping[str, Any]) -> list[str]:
        keys: list[str] = []
        for rules in rules_by_key.values():
            keys += [key for key in experiment_keys(rules) if key not in keys]
        return keys

    def _assign(
        self, profile: Profile, keys: list[str], rules_by_key: Mapping[str, Any]
    ) -> None:
        """Assign the visitor to the running experiments its banner rules read.

        Only the first page that needs an assignment pays these queries; later
        pages read the stored assignment in the visitor query.
        """
        from omnichannel.experiments.assignment import assign
        from omnichannel.experiments.models import Experiment

        running = Experiment.objects.filter(
            key__in=keys, status=Experiment.Status.RUNNING
        )
        assigned = False
        for experiment in running:
            try:
                assign(experiment, profile)
                assigned = True
            except Exception:
                logger.exception(
                    "assigning profile %s to experiment %s failed",
                    profile.pk,
                    experiment.pk,
                )
        if not assigned:
            return
        affected = {
            key: rules
            for key, rules in rules_by_key.items()
            if set(experiment_keys(rules)) & set(keys)
        }
        self._results.update(self.evaluate_many(affected))

    def _evaluate_without_profile(self, rules_by_key: Mapping[str, Any]) -> None:
        evaluation = NoProfileEvaluation(self.now)
        for key, rules in rules_by_key.items():
            self._results[key] = self._evaluate_safely(rules, evaluation)

    def _evaluate_safely(self, rules: Any, evaluation: Evaluation) -> bool:
        try:
            return evaluate(rules, evaluation.profile, evaluation=evaluation)
        except (InvalidRule, KeyError, TypeError, ValueError, AttributeError):
            logger.exception("a personalisation rule failed for %s", self._where())
            return False

    # Answers ----------------------------------------------------------------------

    def matches(self, rules: Any) -> bool:
        """Tell whether the visitor meets ``rules``.

        The load evaluated the rules of live banners. Any other rule costs one more
        query, or none for a visitor without a profile.
        """
        self.load()
        key = rule_key(rules)
        if key not in self._results:
            self._results.update(self.evaluate_many({key: rules}))
        return self._results[key]

    def evaluate_many(self, rules_by_key: Mapping[str, Any]) -> dict[str, bool]:
        """Evaluate several rules for the visitor with at most one query."""
        self.load()
        if self.profile is None:
            evaluation = NoProfileEvaluation(self.now)
            return {
                key: self._evaluate_safely(rules, evaluation)
                for key, rules in rules_by_key.items()
            }
        columns, names = rule_columns(rules_by_key, self.now)
        results = dict.fromkeys(rules_by_key, False)
        if not columns:
            return results
        values = (
            Profile.objects.filter(pk=self.profile.pk)
            .annotate(**columns)
            .values(*columns)
            .first()
        )
        if values is not None:
            for key, name in names.items():
                results[key] = bool(values[name])
        return results

    def banner_for(self, placement: str) -> Banner | None:
        """Return the banner the visitor sees in ``placement``, or None.

        The highest priority banner whose rule matches wins, the older one on a
        tie; without one, the placement's fallback.
        """
        self.load()
        for banner in self.banners.get(placement, []):
            if self._results.get(rule_key(banner.rules), False):
                return banner
        return self.fallbacks.get(placement)

    def fallback_for(self, placement: str) -> Banner | None:
        self.load()
        return self.fallbacks.get(placement)

    def in_segments(self, slugs: Iterable[str]) -> bool:
        """Tell whether the visitor is a member of any of the segments."""
        self.load()
        return any(slug in self.memberships for slug in slugs)


def page_context(request: Any) -> PageContext:
    """Return the request's PageContext, creating it on the first call."""
    if request is None:
        return PageContext(None)
    current = getattr(request, REQUEST_ATTRIBUTE, None)
    if current is None:
        current = PageContext(request)
        setattr(request, REQUEST_ATTRIBUTE, current)
        # The page now depends on the visitor, so a shared cache must key it by them.
        request.omnichannel_vary_cookie = True
    return current
