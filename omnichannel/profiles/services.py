"""Identity resolution, event tracking, merging and order aggregates."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.exceptions import InvalidIdentifier, OmnichannelError
from omnichannel.profiles import signals
from omnichannel.profiles.events import ORDER_EVENT, check_event_type
from omnichannel.profiles.models import Event, Identity, Profile, ProfileMerge
from omnichannel.profiles.normalise import is_blocked, normalise_email, normalise_phone

logger = logging.getLogger(__name__)

Kind = Identity.Kind
# Kinds that name a person rather than a browser or device. Two profiles that hold
# different values of one of these kinds are two people and are never merged.
STRONG_KINDS = (Kind.EMAIL, Kind.PHONE, Kind.USER)
ORDER_REVERSAL_EVENTS = ("order_cancelled", "order_refunded")
AGGREGATE_EVENTS = (ORDER_EVENT, *ORDER_REVERSAL_EVENTS)
MAX_PROPERTIES_BYTES = 32 * 1024
# Events the app records about itself; they do not mean the customer was seen.
PASSIVE_SOURCES = ("journey", "import")


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
    that share identifiers are merged unless they hold different emails, phones or
    users; then the weaker identifiers (visitor cookie, external id) move to the
    profile that owns the strong ones. Raises InvalidIdentifier on a bad identifier.
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
    if not identifiers:
        raise InvalidIdentifier(
            "identifiers",
            "give at least one of email, phone, user, visitor_id or external_id.",
        )
    profile = _resolve_with_retry(identifiers, source=source, traits=traits or {})
    if request is not None:
        request.omnichannel_profile = profile
    return profile


def _resolve_with_retry(
    identifiers: Identifiers, *, source: str, traits: Mapping[str, Any]
) -> Profile:
    # Two requests may create the same identity at once; the unique constraint on
    # Identity stops the second, which then finds the row the first one wrote.
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _resolve(identifiers, source=source, traits=traits)
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info("identity race on attempt %d, retrying", attempt + 1)
    raise AssertionError("unreachable")


def _resolve(
    identifiers: Identifiers, *, source: str, traits: Mapping[str, Any]
) -> Profile:
    query = models.Q()
    for kind, value in identifiers.pairs:
        query |= models.Q(kind=kind, value=value)
    existing = list(Identity.objects.filter(query).select_related("profile"))
    profiles = {identity.profile_id: identity.profile for identity in existing}

    if not profiles:
        profile = Profile.objects.create()
    else:
        profile = _choose_survivor(list(profiles.values()), identifiers)
        if _would_exceed_limit(profile, identifiers):
            # The identifiers name somebody else than the profile that owns the
            # cookie: give them their own profile and hand it the cookie.
            previous, profile = profile, Profile.objects.create()
            _move_weak_identities(previous, profile, identifiers)
            profiles.pop(previous.pk)
        for other in profiles.values():
            if other.pk == profile.pk:
                continue
            if _can_merge(profile, other):
                merge_profiles(profile, other, reason="identify")
            else:
                _move_weak_identities(other, profile, identifiers)
        profile.refresh_from_db()

    _attach_identities(profile, identifiers, source)
    _apply_traits(profile, traits)
    return profile


def _choose_survivor(profiles: list[Profile], identifiers: Identifiers) -> Profile:
    strong_values = {
        (kind, value) for kind, value in identifiers.pairs if kind in STRONG_KINDS
    }
    owners = {
        identity.profile_id
        for identity in Identity.objects.filter(
            profile__in=profiles, kind__in=STRONG_KINDS
        )
        if (identity.kind, identity.value) in strong_values
    }

    def rank(profile: Profile) -> tuple[int, int, int, int]:
        return (
            profile.pk in owners,
            profile.user_id is not None,
            profile.order_count,
            -profile.pk,
        )

    return max(profiles, key=rank)


def _would_exceed_limit(profile: Profile, identifiers: Identifiers) -> bool:
    """Tell whether attaching the strong identifiers would give ``profile`` more
    values of one kind than ``MAX_IDENTITIES_PER_KIND`` allows."""
    limit = app_settings.MAX_IDENTITIES_PER_KIND
    owned: dict[str, set[str]] = {}
    for kind, value in Identity.objects.filter(
        profile=profile, kind__in=STRONG_KINDS
    ).values_list("kind", "value"):
        owned.setdefault(kind, set()).add(value)
    for kind in STRONG_KINDS:
        given = set(identifiers.of_kind(kind))
        if given and owned.get(kind) and len(owned[kind] | given) > limit:
            return True
    return False


def _can_merge(survivor: Profile, other: Profile) -> bool:
    """Tell whether two profiles may become one without joining two people."""
    kinds = Identity.objects.filter(
        profile__in=[survivor, other], kind__in=STRONG_KINDS
    ).values_list("profile_id", "kind", "value")
    by_kind: dict[str, dict[int, set[str]]] = {}
    for profile_id, kind, value in kinds:
        by_kind.setdefault(kind, {}).setdefault(profile_id, set()).add(value)
    limit = app_settings.MAX_IDENTITIES_PER_KIND
    for owners in by_kind.values():
        values = set().union(*owners.values())
        if len(owners) > 1 and len(values) > limit:
            return False
    return True


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


def _attach_identities(profile: Profile, identifiers: Identifiers, source: str) -> None:
    now = timezone.now()
    owned = set(Identity.objects.filter(profile=profile).values_list("kind", "value"))
    for kind, value in identifiers.pairs:
        if (kind, value) in owned:
            continue
        Identity.objects.create(
            profile=profile, kind=kind, value=value, source=source, last_seen_at=now
        )
    changed = []
    emails = identifiers.of_kind(Kind.EMAIL)
    phones = identifiers.of_kind(Kind.PHONE)
    users = identifiers.of_kind(Kind.USER)
    if emails and not profile.email:
        profile.email = emails[0]
        changed.append("email")
    if phones and not profile.phone:
        profile.phone = phones[0]
        changed.append("phone")
    if users and profile.user_id is None:
        profile.user_id = int(users[0]) if users[0].isdigit() else users[0]
        changed.append("user")
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])


TRAIT_FIELDS = ("first_name", "last_name", "time_zone", "country", "language")


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
    same transaction. Raises UnknownEventType, InvalidIdentifier, or ValueError
    when ``properties`` is not a JSON object of at most 32 KiB.
    """
    check_event_type(name)
    properties = dict(properties or {})
    _check_properties(properties)
    if occurred_at is not None and timezone.is_naive(occurred_at):
        raise ValueError(
            "occurred_at must be timezone-aware; attach a time zone, for example "
            "with datetime.replace(tzinfo=...)."
        )
    if idempotency_key is not None and len(idempotency_key) > 200:
        raise ValueError("idempotency_key must be at most 200 characters.")

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
        signals.event_tracked.send(sender=Event, event=event, profile=profile)
    return event


def _check_properties(properties: dict[str, Any]) -> None:
    try:
        encoded = json.dumps(properties, cls=_DecimalEncoder)
    except (TypeError, ValueError) as error:
        raise ValueError(f"properties must be JSON serialisable: {error}") from None
    if len(encoded.encode()) > MAX_PROPERTIES_BYTES:
        raise ValueError(
            f"properties are {len(encoded.encode())} bytes; the maximum is "
            f"{MAX_PROPERTIES_BYTES}. Send only the fields segments and messages use."
        )


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
    elif event.source in PASSIVE_SOURCES:
        return
    elif profile.last_seen_at is None or event.occurred_at > profile.last_seen_at:
        Profile.objects.filter(pk=profile.pk).update(last_seen_at=event.occurred_at)
        profile.last_seen_at = event.occurred_at


def counted_orders() -> models.QuerySet[Event]:
    """Return order events that no cancellation or refund event reverses."""
    reversal = Event.objects.filter(
        profile=OuterRef("profile"),
        name__in=ORDER_REVERSAL_EVENTS,
        object_type=OuterRef("object_type"),
        object_id=OuterRef("object_id"),
    )
    return Event.objects.filter(name=ORDER_EVENT).exclude(Exists(reversal))


def recompute_aggregates(profile_ids: Iterable[int] | None = None) -> int:
    """Recompute order aggregates from the Event log in one UPDATE; return the rows.

    ``None`` recomputes every profile.
    """
    orders = counted_orders().filter(profile=OuterRef("pk")).order_by()

    def aggregate(expression: Any) -> Subquery:
        return Subquery(
            orders.values("profile").annotate(value=expression).values("value")[:1]
        )

    zero = models.Value(Decimal("0"), output_field=models.DecimalField())
    queryset = Profile.objects.all()
    if profile_ids is not None:
        queryset = queryset.filter(pk__in=list(profile_ids))
    updated = queryset.update(
        order_count=Coalesce(aggregate(Count("id")), 0),
        total_spent=Coalesce(aggregate(Sum("revenue")), zero),
        first_order_at=aggregate(Min("occurred_at")),
        last_order_at=aggregate(Max("occurred_at")),
    )
    queryset.filter(order_count__gt=0).update(
        average_order_value=models.ExpressionWrapper(
            models.F("total_spent") / models.F("order_count"),
            output_field=models.DecimalField(max_digits=14, decimal_places=2),
        )
    )
    queryset.filter(order_count=0).update(average_order_value=zero)
    return updated


class MergeError(OmnichannelError, ValueError):
    """Two profiles cannot be merged."""


def merge_profiles(
    survivor: Profile, loser: Profile, *, reason: str = ""
) -> ProfileMerge:
    """Move everything of ``loser`` to ``survivor`` and record what moved.

    Every model with a foreign key to Profile is moved. A model that needs more than
    an UPDATE (because of a unique constraint, say) defines a classmethod
    ``merge_profiles(survivor, loser) -> list[pk]`` that does the move and returns
    the primary keys it moved.
    """
    if survivor.pk == loser.pk:
        raise MergeError("A profile cannot be merged into itself.")
    with transaction.atomic():
        # Lock both rows in primary key order so that two merges of the same pair,
        # in either direction, wait for each other instead of deadlocking.
        locked = {
            p.pk: p
            for p in Profile.objects.select_for_update()
            .filter(pk__in=[survivor.pk, loser.pk])
            .order_by("pk")
        }
        if len(locked) != 2:
            raise MergeError("One of the profiles no longer exists.")
        survivor, loser = locked[survivor.pk], locked[loser.pk]
        if loser.merged_into_id is not None:
            raise MergeError(f"Profile {loser.pk} was already merged.")

        loser_fields = {
            "email": loser.email,
            "phone": loser.phone,
            "user_id": loser.user_id,
        }
        moved = _move_related_rows(survivor, loser)
        _copy_missing_fields(survivor, loser)
        Profile.objects.filter(pk=loser.pk).update(
            email="", phone="", user=None, merged_into=survivor
        )
        survivor.save()
        recompute_aggregates([survivor.pk, loser.pk])
        merge = ProfileMerge.objects.create(
            survivor=survivor,
            loser=loser,
            reason=reason,
            moved=moved,
            loser_fields=loser_fields,
        )
        logger.info(
            "merged profile %s into %s (%d rows moved)",
            loser.pk,
            survivor.pk,
            sum(len(pks) for pks in moved.values()),
        )
        signals.profile_merged.send(
            sender=Profile, survivor=survivor, loser=loser, merge=merge
        )
    return merge


def _profile_relations() -> list[Any]:
    relations = []
    for relation in Profile._meta.related_objects:
        if relation.related_model in (Profile, ProfileMerge):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        relations.append(relation)
    return relations


def _move_related_rows(survivor: Profile, loser: Profile) -> dict[str, list[Any]]:
    moved: dict[str, list[Any]] = {}
    for relation in _profile_relations():
        model = relation.related_model
        field_name = relation.field.name
        label = model._meta.label
        hook = getattr(model, "merge_profiles", None)
        if hook is not None:
            pks = list(hook(survivor, loser))
        elif relation.one_to_one:
            pks = _move_one_to_one(model, field_name, survivor, loser)
        else:
            rows = model._default_manager.filter(**{field_name: loser})
            pks = list(rows.values_list("pk", flat=True))
            rows.update(**{field_name: survivor})
        if pks:
            moved[label] = [str(pk) for pk in pks]
    return moved


def _move_one_to_one(
    model: type[models.Model], field_name: str, survivor: Profile, loser: Profile
) -> list[Any]:
    manager = model._default_manager
    if manager.filter(**{field_name: survivor}).exists():
        # Derived one-to-one rows (scores, predictions) are recomputed for the
        # survivor, so the loser's copy is dropped.
        manager.filter(**{field_name: loser}).delete()
        return []
    rows = manager.filter(**{field_name: loser})
    pks = list(rows.values_list("pk", flat=True))
    rows.update(**{field_name: survivor})
    return pks


def _copy_missing_fields(survivor: Profile, loser: Profile) -> None:
    for name in (*TRAIT_FIELDS, "birthday"):
        if not getattr(survivor, name) and getattr(loser, name):
            setattr(survivor, name, getattr(loser, name))
    if not survivor.email and loser.email:
        survivor.email = loser.email
    if not survivor.phone and loser.phone:
        survivor.phone = loser.phone
    if survivor.user_id is None and loser.user_id is not None:
        survivor.user_id = loser.user_id
    survivor.attributes = {**loser.attributes, **survivor.attributes}
    survivor.tags = sorted(set(survivor.tags) | set(loser.tags))
    if loser.created_at < survivor.created_at:
        survivor.created_at = loser.created_at
    if loser.last_seen_at and (
        survivor.last_seen_at is None or loser.last_seen_at > survivor.last_seen_at
    ):
        survivor.last_seen_at = loser.last_seen_at
    # The loser's unique fields are cleared first, so the survivor can take them.
    Profile.objects.filter(pk=loser.pk).update(email="", phone="", user=None)
