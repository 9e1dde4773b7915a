"""Identity resolution and event tracking."""

from __future__ import annotations

import json
import logging
import re
import uuid as uuid_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, models, transaction
from django.utils import timezone

from omnichannel.exceptions import InvalidIdentifier, MergeError, ProfileErased
from omnichannel.ops import metrics
from omnichannel.profiles import signals
from omnichannel.profiles.aggregates import (
    AGGREGATE_EVENTS,
    ORDER_REVERSAL_EVENTS,
    counted_orders,
    recompute_aggregates,
)
from omnichannel.profiles.events import PASSIVE_EVENTS, check_event_type
from omnichannel.profiles.merging import (
    STRONG_KINDS,
    TRAIT_FIELDS,
    identity_limit,
    lock_profiles,
    merge_conflict,
    merge_profiles,
)
from omnichannel.profiles.models import Event, Identity, Preference, Profile
from omnichannel.profiles.normalise import is_blocked, normalise_email, normalise_phone

__all__ = [
    "AGGREGATE_EVENTS",
    "MAX_PROPERTIES_BYTES",
    "ORDER_REVERSAL_EVENTS",
    "STRONG_KINDS",
    "Identifiers",
    "MergeError",
    "Resolution",
    "announce_events",
    "collect_identifiers",
    "counted_orders",
    "find_profile",
    "identify",
    "join_visitor",
    "load_profiles",
    "merge_profiles",
    "profile_for_request",
    "recompute_aggregates",
    "record_preference",
    "resolve_profile",
    "track",
]

logger = logging.getLogger(__name__)

Kind = Identity.Kind
MAX_PROPERTIES_BYTES = 32 * 1024
# Events the app records about itself; they do not mean the customer was seen.
PASSIVE_SOURCES = ("journey", "import")


def is_passive(event: Event) -> bool:
    """Tell whether ``event`` leaves the profile's ``last_seen_at`` unchanged."""
    return event.source in PASSIVE_SOURCES or event.name in PASSIVE_EVENTS


# Precedence of identifier kinds when they point at different profiles: the
# profile of the shop user wins over that of the email, which wins over the phone.
KIND_PRECEDENCE = {Kind.USER: 0, Kind.EMAIL: 1, Kind.PHONE: 2}
RESOLVE_ATTEMPTS = 5
SLUG_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
# PostgreSQL error codes of a deadlock and of a serialisation failure; both mean
# that the transaction can simply run again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


@dataclass
class Identifiers:
    """Normalised identifiers of one person, as ``(kind, value)`` pairs."""

    pairs: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, value: str) -> None:
        if value and (kind, value) not in self.pairs:
            self.pairs.append((kind, value))

    def of_kind(self, kind: str) -> list[str]:
        return [value for k, value in self.pairs if k == kind]

    def __bool__(self) -> bool:
        return bool(self.pairs)


@dataclass
class Resolution:
    """The outcome of resolving identifiers to a profile."""

    profile: Profile
    created: bool = False
    merged: list[int] = field(default_factory=list)
    #: (kind, value) pairs given that stay with another profile, because merging
    #: the two was refused (conflicting identities or the limit of a kind).
    not_attached: list[tuple[str, str]] = field(default_factory=list)


def collect_identifiers(
    *,
    email: str | None = None,
    phone: str | None = None,
    user: Any = None,
    visitor_id: str | None = None,
    external_id: str | None = None,
    request: Any = None,
    phone_region: str | None = None,
) -> Identifiers:
    """Normalise the given identifiers; raise InvalidIdentifier on a bad one."""
    found = Identifiers()
    if request is not None:
        request_user = getattr(request, "user", None)
        if user is None and request_user is not None and request_user.is_authenticated:
            user = request_user
        visitor_id = visitor_id or getattr(request, "omnichannel_visitor_id", None)
    if email:
        found.add(Kind.EMAIL, normalise_email(email))
    if phone:
        found.add(Kind.PHONE, normalise_phone(phone, phone_region))
    if user is not None:
        user_pk = getattr(user, "pk", user)
        if user_pk is not None:
            found.add(Kind.USER, str(user_pk))
    if visitor_id:
        visitor = str(visitor_id).strip()
        if len(visitor) > 64 or is_blocked(visitor):
            raise InvalidIdentifier("visitor_id", "must be at most 64 characters.")
        found.add(Kind.VISITOR, visitor)
    if external_id:
        external = str(external_id).strip()
        if not external or len(external) > 255 or is_blocked(external):
            raise InvalidIdentifier(
                "external_id", "must be 1 to 255 characters and not a placeholder."
            )
        found.add(Kind.EXTERNAL, external)
    return found


def identify(
    request: Any = None,
    *,
    email: str | None = None,
    phone: str | None = None,
    user: Any = None,
    visitor_id: str | None = None,
    external_id: str | None = None,
    source: str = "",
    traits: Mapping[str, Any] | None = None,
    phone_region: str | None = None,
) -> Profile:
    """Return the one profile for these identifiers, creating or merging as needed.

    Identifiers that belong to no profile are attached to the resolved one. Profiles
    that share identifiers are merged, unless together they would have more emails,
    phones or users than ``MAX_IDENTITIES_PER_KIND`` allows. In that case the weaker
    identifiers (visitor cookie, external id) move to the profile that owns the
    strong ones. Raises InvalidIdentifier on a bad identifier.
    """
    identifiers = collect_identifiers(
        email=email,
        phone=phone,
        user=user,
        visitor_id=visitor_id,
        external_id=external_id,
        request=request,
        phone_region=phone_region,
    )
    profile = resolve_profile(identifiers, source=source, traits=traits).profile
    if request is not None:
        request.omnichannel_profile = profile
    return profile


def resolve_profile(
    identifiers: Identifiers,
    *,
    source: str = "",
    traits: Mapping[str, Any] | None = None,
) -> Resolution:
    """Resolve normalised identifiers to one profile; see ``identify``.

    Runs in its own transaction (a savepoint inside an outer one) and runs again
    when a concurrent request created the same identity, merged one of the
    profiles, or deadlocked with this one.
    """
    if not identifiers:
        raise InvalidIdentifier(
            "identifiers",
            "give at least one of email, phone, user, visitor_id or external_id.",
        )
    for attempt in range(1, RESOLVE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _resolve(identifiers, source=source, traits=traits or {})
        except (IntegrityError, _StaleRead, MergeError) as error:
            if attempt == RESOLVE_ATTEMPTS:
                raise
            logger.info(
                "identity resolution raced (%s) on attempt %d, retrying",
                type(error).__name__,
                attempt,
            )
        except OperationalError as error:
            sqlstate = getattr(error.__cause__, "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt == RESOLVE_ATTEMPTS:
                raise
            logger.info("identity resolution deadlocked on attempt %d", attempt)
    raise AssertionError("unreachable")


class _StaleRead(Exception):
    """Identities moved between reading them and locking their profiles."""


def _owners(identifiers: Identifiers) -> dict[tuple[str, str], int]:
    by_kind: dict[str, list[str]] = {}
    for kind, value in identifiers.pairs:
        by_kind.setdefault(kind, []).append(value)
    query = models.Q()
    for kind, values in by_kind.items():
        query |= models.Q(kind=kind, value__in=values)
    rows = Identity.objects.filter(query).values_list("kind", "value", "profile_id")
    return {(kind, value): profile_id for kind, value, profile_id in rows}


def _resolve(
    identifiers: Identifiers, *, source: str, traits: Mapping[str, Any]
) -> Resolution:
    owners = _owners(identifiers)
    locked = lock_profiles(set(owners.values()))
    if owners and (
        any(p.merged_into_id is not None for p in locked.values())
        or _owners(identifiers) != owners
    ):
        raise _StaleRead

    if len(locked) == 1 and len(owners) == len(identifiers.pairs):
        # The usual call: every identifier already belongs to this one profile.
        (profile,) = locked.values()
        _apply_traits(profile, traits)
        return Resolution(profile=profile)

    candidates = sorted(locked.values(), key=lambda p: _precedence(p, owners))
    survivor = candidates[0] if candidates else None
    if survivor is not None and _cannot_take(survivor, identifiers, owners):
        # The profile found through a weaker identifier (a shared browser, a phone
        # given with a new email) belongs to another person than the one the
        # strongest identifier names, so that person gets a profile of their own.
        survivor = None
    created = survivor is None
    if survivor is None:
        survivor = Profile.objects.create()

    unowned = [pair for pair in identifiers.pairs if pair not in owners]
    merged = []
    for other in candidates:
        if other.pk == survivor.pk:
            continue
        if merge_conflict(survivor, other, unowned) is None:
            merge_profiles(survivor, other, reason="identify")
            merged.append(other.pk)
        else:
            _move_weak_identities(other, survivor, identifiers)
    if merged:
        survivor.refresh_from_db()

    _attach_identities(survivor, identifiers, source, set(locked))
    _apply_traits(survivor, traits)
    elsewhere = models.Q()
    for kind, value in identifiers.pairs:
        elsewhere |= models.Q(kind=kind, value=value)
    not_attached = sorted(
        Identity.objects.filter(elsewhere)
        .exclude(profile=survivor)
        .values_list("kind", "value")
    )
    return Resolution(
        profile=survivor, created=created, merged=merged, not_attached=not_attached
    )


def _precedence(
    profile: Profile, owners: dict[tuple[str, str], int]
) -> tuple[int, int, int, int]:
    ranks = [
        KIND_PRECEDENCE[kind]
        for (kind, _value), owner in owners.items()
        if owner == profile.pk and kind in KIND_PRECEDENCE
    ]
    return (
        min(ranks, default=len(KIND_PRECEDENCE)),
        profile.user_id is None,
        -profile.order_count,
        profile.pk,
    )


def _cannot_take(
    profile: Profile, identifiers: Identifiers, owners: dict[tuple[str, str], int]
) -> bool:
    """Tell whether no profile owns the strongest identifier given yet and
    ``profile`` cannot take it without going over the limit of its kind."""
    strong = sorted(
        (KIND_PRECEDENCE[kind], kind, value)
        for kind, value in identifiers.pairs
        if kind in KIND_PRECEDENCE
    )
    if not strong:
        return False
    _rank, kind, value = strong[0]
    if owners.get((kind, value)) is not None:
        return False
    held = set(
        Identity.objects.filter(profile=profile, kind=kind).values_list(
            "value", flat=True
        )
    )
    return bool(held) and len(held | {value}) > identity_limit(kind)


def _move_weak_identities(
    source_profile: Profile, target: Profile, identifiers: Identifiers
) -> None:
    weak = [
        (kind, value) for kind, value in identifiers.pairs if kind not in STRONG_KINDS
    ]
    for kind, value in weak:
        Identity.objects.filter(profile=source_profile, kind=kind, value=value).update(
            profile=target, last_seen_at=timezone.now()
        )


def _attach_identities(
    profile: Profile, identifiers: Identifiers, source: str, known: set[int]
) -> None:
    """Attach the identifiers that no profile owns yet.

    ``known`` are the profiles locked at the start. An owner outside that set was
    created by a concurrent request, so the resolution runs again.
    """
    now = timezone.now()
    owners = _owners(identifiers)
    if any(owner not in known and owner != profile.pk for owner in owners.values()):
        raise _StaleRead
    held: dict[str, set[str]] = {}
    for kind, value in Identity.objects.filter(profile=profile).values_list(
        "kind", "value"
    ):
        held.setdefault(kind, set()).add(value)
    for kind, value in identifiers.pairs:
        owner = owners.get((kind, value))
        if owner is not None:
            if owner != profile.pk:
                logger.warning(
                    "identity of kind %s stays on profile %s, not on %s: the "
                    "profiles cannot be merged",
                    kind,
                    owner,
                    profile.pk,
                )
            continue
        values = held.setdefault(kind, set())
        if kind in STRONG_KINDS and len(values) >= identity_limit(kind):
            logger.warning(
                "profile %s already holds %d identities of kind %s; another one "
                "was not attached",
                profile.pk,
                len(values),
                kind,
            )
            continue
        Identity.objects.create(
            profile=profile, kind=kind, value=value, source=source, last_seen_at=now
        )
        values.add(value)

    changed = []
    emails = sorted(held.get(Kind.EMAIL, ()))
    phones = sorted(held.get(Kind.PHONE, ()))
    users = sorted(held.get(Kind.USER, ()))
    if emails and not profile.email:
        profile.email = _first_given(identifiers.of_kind(Kind.EMAIL), emails)
        changed.append("email")
    if phones and not profile.phone:
        profile.phone = _first_given(identifiers.of_kind(Kind.PHONE), phones)
        changed.append("phone")
    if users and profile.user_id is None:
        profile.user_id = int(users[0]) if users[0].isdigit() else users[0]
        changed.append("user")
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])


def _first_given(given: list[str], held: list[str]) -> str:
    return next((value for value in given if value in held), held[0])


def _apply_traits(profile: Profile, traits: Mapping[str, Any]) -> None:
    changed = []
    for name in TRAIT_FIELDS:
        value = traits.get(name)
        if value and getattr(profile, name) != value:
            setattr(profile, name, str(value)[:150])
            changed.append(name)
    if traits.get("birthday") and profile.birthday != traits["birthday"]:
        profile.birthday = traits["birthday"]
        changed.append("birthday")
    if changed:
        profile.full_clean(validate_unique=False, validate_constraints=False)
        profile.save(update_fields=[*changed, "updated_at"])


def find_profile(
    *,
    email: str | None = None,
    phone: str | None = None,
    uuid: Any = None,
    phone_region: str | None = None,
) -> Profile | None:
    """Return the live profile with this email, phone or uuid, without creating one.

    A uuid of a merged profile leads to the profile it was merged into.
    """
    profile = None
    if uuid is not None:
        try:
            key = uuid_module.UUID(str(uuid))
        except ValueError:
            raise InvalidIdentifier("profile", f"{uuid!r} is not a uuid.") from None
        profile = Profile.objects.filter(uuid=key).first()
    elif email or phone:
        kind, value = (
            (Kind.EMAIL, normalise_email(email))
            if email
            else (Kind.PHONE, normalise_phone(phone or "", phone_region))
        )
        identity = (
            Identity.objects.filter(kind=kind, value=value)
            .select_related("profile")
            .first()
        )
        profile = identity.profile if identity else None
    seen = set()
    while profile is not None and profile.merged_into_id is not None:
        if profile.pk in seen:
            break
        seen.add(profile.pk)
        profile = profile.merged_into
    return profile


def join_visitor(request: Any, profile: Profile, *, source: str = "link") -> Profile:
    """Join the browser's visitor cookie to a known profile and return the profile.

    For a click on a tracked link in a message: the link names the profile, the
    request brings the cookie. The anonymous history of the cookie is merged in
    when the rules allow; otherwise the cookie moves to ``profile``. Requests
    without a visitor id leave everything as it is.
    """
    visitor_id = getattr(request, "omnichannel_visitor_id", None)
    live = find_profile(uuid=profile.uuid)
    if not visitor_id or live is None or live.erased_at is not None:
        return profile
    held = list(
        Identity.objects.filter(profile=live)
        .exclude(kind=Kind.VISITOR)
        .order_by("created_at", "pk")
        .values_list("kind", "value")
    )
    # The strongest identifier of the profile stands for it in the resolution.
    held.sort(key=lambda pair: KIND_PRECEDENCE.get(pair[0], len(KIND_PRECEDENCE)))
    identifiers = Identifiers()
    if held:
        identifiers.add(*held[0])
    else:
        owner = (
            Identity.objects.filter(kind=Kind.VISITOR, value=visitor_id)
            .values_list("profile_id", flat=True)
            .first()
        )
        if owner is None:
            Identity.objects.create(
                profile=live, kind=Kind.VISITOR, value=visitor_id, source=source
            )
        return live
    identifiers.add(Kind.VISITOR, visitor_id)
    joined = resolve_profile(identifiers, source=source).profile
    request.omnichannel_profile = joined
    return joined


def profile_for_request(request: Any, *, create: bool = False) -> Profile | None:
    """Return the profile behind a request's user or visitor cookie, if any."""
    cached = getattr(request, "omnichannel_profile", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    visitor_id = getattr(request, "omnichannel_visitor_id", None)
    profile = None
    if signed_in:
        profile = Profile.objects.filter(user=user).first()
    if profile is None and visitor_id:
        identity = (
            Identity.objects.filter(kind=Kind.VISITOR, value=visitor_id)
            .select_related("profile")
            .first()
        )
        profile = identity.profile if identity else None
    # An anonymous user object is truthy; only a signed-in user identifies anyone.
    if profile is None and create and (visitor_id or signed_in):
        profile = identify(request)
    if profile is not None:
        request.omnichannel_profile = profile
    return profile


def track(
    name: str,
    *,
    profile: Profile | None = None,
    request: Any = None,
    email: str | None = None,
    phone: str | None = None,
    user: Any = None,
    visitor_id: str | None = None,
    external_id: str | None = None,
    properties: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    source: str = "",
    object_type: str = "",
    object_id: str | int = "",
    revenue: Decimal | None = None,
    currency: str = "",
    idempotency_key: str | None = None,
) -> Event:
    """Store an event on the profile the identifiers resolve to and announce it.

    An event whose ``idempotency_key`` was stored before is not stored again; the
    earlier event is returned. Order events update the profile's aggregates in the
    same transaction. Raises UnknownEventType, InvalidIdentifier, ProfileErased, or
    ValueError when ``properties`` is not a JSON object of at most 32 KiB.
    """
    check_event_type(name)
    properties = dict(properties or {})
    check_properties(properties)
    if occurred_at is not None and timezone.is_naive(occurred_at):
        raise ValueError(
            "occurred_at must be timezone-aware; attach a time zone, for example "
            "with datetime.replace(tzinfo=...)."
        )
    if idempotency_key is not None and len(idempotency_key) > 200:
        raise ValueError("idempotency_key must be at most 200 characters.")
    if profile is not None and profile.erased_at is not None:
        raise ProfileErased(f"Profile {profile.pk} was erased; it takes no events.")

    with transaction.atomic():
        if idempotency_key:
            earlier = Event.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                return earlier
        if profile is None:
            profile = identify(
                request,
                email=email,
                phone=phone,
                user=user,
                visitor_id=visitor_id,
                external_id=external_id,
                source=source,
            )
        try:
            with transaction.atomic():
                event = Event.objects.create(
                    profile=profile,
                    name=name,
                    occurred_at=occurred_at or timezone.now(),
                    source=source,
                    properties=properties,
                    object_type=object_type,
                    object_id=str(object_id),
                    revenue=revenue,
                    currency=currency,
                    idempotency_key=idempotency_key,
                )
        except IntegrityError:
            earlier = Event.objects.filter(idempotency_key=idempotency_key).first()
            if earlier is None:
                raise
            return earlier
        _touch_profile(profile, event)
        announce_events([event], {profile.pk: profile})
        metrics.count_events(1)
    return event


def announce_events(
    events: Sequence[Event], profiles: Mapping[int, Profile] | None = None
) -> None:
    """Send ``event_tracked`` for each event, then ``events_tracked`` once.

    Call it inside the transaction that stored the events. ``profiles`` maps
    profile ids to profiles already loaded. The others are loaded only when a
    receiver of ``event_tracked`` is connected.
    """
    if not events:
        return
    if signals.event_tracked.has_listeners(Event):
        loaded = load_profiles(events, profiles)
        for event in events:
            signals.event_tracked.send(
                sender=Event, event=event, profile=loaded[event.profile_id]
            )
    signals.events_tracked.send(sender=Event, events=list(events))


def load_profiles(
    events: Sequence[Event], profiles: Mapping[int, Profile] | None = None
) -> dict[int, Profile]:
    """Return the profiles of ``events`` by id, loading the missing ones in one query.

    Each event's ``profile`` is set to the loaded profile, so reading it later
    costs no query.
    """
    found: dict[int, Profile] = dict(profiles or {})
    for event in events:
        if event.profile_id not in found and Event.profile.is_cached(event):
            found[event.profile_id] = event.profile
    missing = {event.profile_id for event in events} - set(found)
    if missing:
        found.update(Profile.objects.in_bulk(list(missing)))
    for event in events:
        if not Event.profile.is_cached(event):
            event.profile = found[event.profile_id]
    return found


def check_properties(properties: Any) -> int:
    """Raise ValueError unless ``properties`` is a JSON object of at most 32 KiB;
    return its encoded size in bytes."""
    if not isinstance(properties, dict):
        raise ValueError("properties must be a JSON object.")
    try:
        encoded = json.dumps(properties, cls=_DecimalEncoder)
    except (TypeError, ValueError) as error:
        raise ValueError(f"properties must be JSON serialisable: {error}") from None
    size = len(encoded.encode())
    if size > MAX_PROPERTIES_BYTES:
        raise ValueError(
            f"properties are {size} bytes; the maximum is "
            f"{MAX_PROPERTIES_BYTES}. Send only the fields segments and messages use."
        )
    return size


class _DecimalEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return str(o)
        return super().default(o)


def _touch_profile(profile: Profile, event: Event) -> None:
    if event.name in AGGREGATE_EVENTS:
        recompute_aggregates([profile.pk])
        profile.refresh_from_db()
        signals.profile_aggregates_changed.send(sender=Profile, profile=profile)
    elif is_passive(event):
        return
    elif profile.last_seen_at is None or event.occurred_at > profile.last_seen_at:
        Profile.objects.filter(pk=profile.pk).update(last_seen_at=event.occurred_at)
        profile.last_seen_at = event.occurred_at


def record_preference(
    profile: Profile,
    key: str,
    value: str,
    *,
    source: str,
    at: datetime | None = None,
) -> Preference:
    """Store an interest or preference the customer stated, with its source.

    Stating the same value again keeps the first row and its time.
    """
    if profile.erased_at is not None:
        raise ProfileErased(f"Profile {profile.pk} was erased; it takes no data.")
    if not SLUG_PATTERN.match(key):
        raise ValueError(
            "key must be 1 to 64 lower-case letters, digits, hyphens or underscores."
        )
    value = value.strip()
    if not value or len(value) > 200:
        raise ValueError("value must be 1 to 200 characters.")
    if not source:
        raise ValueError("source is required: say where the customer stated it.")
    preference, _created = Preference.objects.get_or_create(
        profile=profile,
        key=key,
        value=value,
        defaults={"source": source[:64], "recorded_at": at or timezone.now()},
    )
    return preference
