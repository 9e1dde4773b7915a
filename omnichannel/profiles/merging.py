"""Merging two profiles into one, the rules that allow it, and undoing a merge.

Every model with a foreign key to Profile takes part without registering: its rows
move to the survivor in one UPDATE. A model that needs more (because of a unique
constraint, say) defines the classmethod ``merge_profiles(survivor, loser)``, which
moves the rows and returns the primary keys it moved, and may define
``unmerge_profiles(survivor, loser, pks)`` to move them back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from omnichannel.conf import app_settings
from omnichannel.exceptions import MergeError
from omnichannel.profiles import signals
from omnichannel.profiles.aggregates import recompute_aggregates
from omnichannel.profiles.models import Identity, Profile, ProfileMerge

logger = logging.getLogger(__name__)

Kind = Identity.Kind
# Kinds that name a person rather than a browser or device. Two profiles that hold
# more values of one of these kinds than the limit allows are two people.
STRONG_KINDS = (Kind.USER, Kind.EMAIL, Kind.PHONE)
TRAIT_FIELDS = ("first_name", "last_name", "time_zone", "country", "language")
# Fields a merge may fill on the survivor from the loser; an undo restores them.
COPIED_FIELDS = (*TRAIT_FIELDS, "birthday", "email", "phone", "user_id")


def identity_limit(kind: str) -> int:
    """Return how many identities of ``kind`` one profile may hold.

    A profile has one shop user at most; emails and phones follow the
    ``MAX_IDENTITIES_PER_KIND`` setting, an int for both or a dict per kind.
    """
    if kind == Kind.USER:
        return 1
    setting = app_settings.MAX_IDENTITIES_PER_KIND
    if isinstance(setting, dict):
        return int(setting.get(kind, 1))
    return int(setting)


def merge_conflict(
    first: Profile,
    second: Profile,
    incoming: Iterable[tuple[str, str]] = (),
) -> str | None:
    """Return why two profiles may not become one, or None when they may.

    ``incoming`` are ``(kind, value)`` identities about to be attached to ``first``.
    """
    if first.user_id is not None and second.user_id is not None:
        if first.user_id != second.user_id:
            return "both profiles belong to different shop users"
    rows = Identity.objects.filter(
        profile__in=[first.pk, second.pk], kind__in=STRONG_KINDS
    ).values_list("profile_id", "kind", "value")
    by_kind: dict[str, dict[int, set[str]]] = {}
    for profile_id, kind, value in rows:
        by_kind.setdefault(kind, {}).setdefault(profile_id, set()).add(value)
    for kind, value in incoming:
        if kind in STRONG_KINDS:
            by_kind.setdefault(kind, {}).setdefault(first.pk, set()).add(value)
    for kind, owners in by_kind.items():
        values = set().union(*owners.values())
        if len(owners) > 1 and len(values) > identity_limit(kind):
            return (
                f"together they would hold {len(values)} identities of kind "
                f"{kind!r}, more than the limit of {identity_limit(kind)} "
                "(setting MAX_IDENTITIES_PER_KIND)"
            )
    return None


def lock_profiles(pks: set[int] | list[int]) -> dict[int, Profile]:
    """Lock the profiles with these primary keys, in key order, and return them.

    Merges, identity resolution and erasure take their profile locks through here
    in one statement (event batches lock in the same order), so that two of them do
    not wait on each other in opposite orders.
    """
    if not pks:
        return {}
    queryset = Profile.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    return {profile.pk: profile for profile in queryset}


def merge_profiles(
    survivor: Profile,
    loser: Profile,
    *,
    reason: str = "",
    actor: str = "",
) -> ProfileMerge:
    """Move everything of ``loser`` to ``survivor`` and record what moved.

    Raises MergeError when the profiles are the same, one was merged or erased, or
    they hold more emails, phones or users together than the limits allow.
    """
    if survivor.pk == loser.pk:
        raise MergeError("A profile cannot be merged into itself.")
    with transaction.atomic():
        locked = lock_profiles([survivor.pk, loser.pk])
        if len(locked) != 2:
            raise MergeError("One of the profiles no longer exists.")
        survivor, loser = locked[survivor.pk], locked[loser.pk]
        for profile in (survivor, loser):
            if profile.merged_into_id is not None:
                raise MergeError(
                    f"Profile {profile.pk} was already merged into profile "
                    f"{profile.merged_into_id}."
                )
            if profile.erased_at is not None:
                raise MergeError(f"Profile {profile.pk} was erased.")
        conflict = merge_conflict(survivor, loser)
        if conflict:
            raise MergeError(
                f"Profiles {survivor.pk} and {loser.pk} cannot be merged: {conflict}."
            )

        loser_fields = _snapshot(loser)
        survivor_fields = _snapshot(survivor)
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
            reason=reason[:200],
            moved=moved,
            loser_fields=loser_fields,
            survivor_fields=survivor_fields,
        )
        logger.info(
            "merged profile %s into %s (%d rows moved, reason %s, by %s)",
            loser.pk,
            survivor.pk,
            sum(len(pks) for pks in moved.values()),
            reason or "-",
            actor or "-",
        )
        signals.profile_merged.send(
            sender=Profile, survivor=survivor, loser=loser, merge=merge
        )
    return merge


def undo_merge(merge: ProfileMerge, *, actor: str = "") -> ProfileMerge:
    """Move the rows a merge moved back to the loser and make it a profile again.

    Rows that reached the survivor after the merge stay with it. Raises MergeError
    when the merge was undone before, a profile was erased since, or the survivor
    was itself merged later (undo that merge first).
    """
    with transaction.atomic():
        merge = ProfileMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at is not None:
            raise MergeError(f"Merge {merge.pk} was already undone.")
        locked = lock_profiles([merge.survivor_id, merge.loser_id])
        survivor, loser = locked[merge.survivor_id], locked[merge.loser_id]
        if survivor.erased_at is not None or loser.erased_at is not None:
            raise MergeError(
                f"Merge {merge.pk} cannot be undone: a profile was erased since."
            )
        if survivor.merged_into_id is not None:
            raise MergeError(
                f"Profile {survivor.pk} was merged into profile "
                f"{survivor.merged_into_id} after this merge; undo that merge first."
            )
        if loser.merged_into_id != survivor.pk:
            raise MergeError(
                f"Profile {loser.pk} is no longer merged into profile {survivor.pk}."
            )

        relations = {_relation_key(relation): relation for relation in _relations()}
        for key, pks in merge.moved.items():
            relation = relations.get(key)
            if relation is None:
                logger.warning(
                    "undo of merge %s skips %d rows of %s, a relation that no "
                    "longer exists",
                    merge.pk,
                    len(pks),
                    key,
                )
                continue
            _move_back(relation, survivor, loser, pks)

        _restore_survivor(survivor, merge.survivor_fields, merge.loser_fields)
        survivor.save()
        Profile.objects.filter(pk=loser.pk).update(
            merged_into=None,
            email=merge.loser_fields.get("email", ""),
            phone=merge.loser_fields.get("phone", ""),
            user_id=merge.loser_fields.get("user_id"),
        )
        recompute_aggregates([survivor.pk, loser.pk])
        merge.undone_at = timezone.now()
        merge.undone_by = actor[:150]
        merge.save(update_fields=["undone_at", "undone_by"])
        loser.refresh_from_db()
        logger.info(
            "undid merge %s of profile %s into %s", merge.pk, loser.pk, survivor.pk
        )
        signals.profile_merge_undone.send(
            sender=Profile, survivor=survivor, loser=loser, merge=merge
        )
    return merge


def _relations() -> list[Any]:
    """Return the reverse relations whose rows a merge moves.

    Hidden relations are included so that the rows of automatic many-to-many
    tables move too.
    """
    relations = []
    for relation in Profile._meta.get_fields(include_hidden=True):
        if not (relation.is_relation and relation.auto_created) or relation.concrete:
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        if relation.related_model in (Profile, ProfileMerge):
            continue
        relations.append(relation)
    return relations


def _relation_key(relation: Any) -> str:
    label = relation.related_model._meta.label
    field_name = relation.field.name
    return label if field_name == "profile" else f"{label}:{field_name}"


def _move_related_rows(survivor: Profile, loser: Profile) -> dict[str, list[str]]:
    moved: dict[str, list[str]] = {}
    for relation in _relations():
        model = relation.related_model
        field_name = relation.field.name
        hook = getattr(model, "merge_profiles", None)
        if hook is not None:
            pks = list(hook(survivor, loser))
        elif model._meta.auto_created:
            pks = _move_many_to_many(model, field_name, survivor, loser)
        elif relation.one_to_one:
            pks = _move_one_to_one(model, field_name, survivor, loser)
        else:
            pks = _move_rows(model, field_name, survivor, loser)
        if pks:
            moved[_relation_key(relation)] = [str(pk) for pk in pks]
    return moved


def _move_rows(
    model: type[models.Model], field_name: str, survivor: Profile, loser: Profile
) -> list[Any]:
    """Move the loser's rows in one UPDATE; return the primary keys moved.

    When a unique constraint rejects the UPDATE (a model without a
    ``merge_profiles`` hook, which check W013 reports), the rows move one by one
    and those that clash with a row of the survivor stay on the loser. They are
    kept, not deleted, and logged.
    """
    manager = model._default_manager
    rows = manager.filter(**{field_name: loser})
    pks = list(rows.values_list("pk", flat=True))
    try:
        with transaction.atomic():
            rows.update(**{field_name: survivor})
        return pks
    except IntegrityError:
        pass
    moved = []
    for pk in pks:
        try:
            with transaction.atomic():
                manager.filter(pk=pk).update(**{field_name: survivor})
        except IntegrityError:
            continue
        moved.append(pk)
    logger.warning(
        "merge of profile %s into %s left %d %s rows on the loser because they "
        "clash with rows of the survivor; define %s.merge_profiles to merge them",
        loser.pk,
        survivor.pk,
        len(pks) - len(moved),
        model._meta.label,
        model.__name__,
    )
    return moved


def _move_back(
    relation: Any, survivor: Profile, loser: Profile, pks: list[str]
) -> None:
    model = relation.related_model
    field_name = relation.field.name
    hook = getattr(model, "unmerge_profiles", None)
    if hook is not None:
        hook(survivor, loser, pks)
        return
    rows = model._default_manager.filter(**{field_name: survivor})
    if not relation.one_to_one:
        rows = rows.filter(pk__in=pks)
    # A one-to-one row may use the profile as its primary key, which the move
    # changed. The survivor had no such row before the merge, so this row is it.
    rows.update(**{field_name: loser})


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


def _move_many_to_many(
    through: type[models.Model], field_name: str, survivor: Profile, loser: Profile
) -> list[Any]:
    """Move links of an automatic many-to-many table; a link both profiles have is
    kept once."""
    other = next(
        field.attname
        for field in through._meta.concrete_fields
        if field.is_relation and field.name != field_name
    )
    manager = through._default_manager
    held = manager.filter(**{field_name: survivor}).values_list(other, flat=True)
    manager.filter(**{field_name: loser, f"{other}__in": list(held)}).delete()
    rows = manager.filter(**{field_name: loser})
    pks = list(rows.values_list("pk", flat=True))
    rows.update(**{field_name: survivor})
    return pks


def _snapshot(profile: Profile) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in (*COPIED_FIELDS, "created_at", "last_seen_at"):
        value = getattr(profile, name)
        values[name] = value.isoformat() if isinstance(value, date) else value
    values["attributes"] = dict(profile.attributes)
    values["tags"] = list(profile.tags)
    return values


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


def _restore_survivor(
    survivor: Profile, before: dict[str, Any], loser: dict[str, Any]
) -> None:
    """Give back to the survivor the values it had before the merge, where the merge
    filled them from the loser and they were not changed since."""
    for name in COPIED_FIELDS:
        current = _plain(getattr(survivor, name))
        if current == loser.get(name) and current != before.get(name):
            setattr(survivor, name, _typed(name, before.get(name)))
    loser_attributes = loser.get("attributes", {})
    survivor.attributes = {
        key: value
        for key, value in survivor.attributes.items()
        if key in before.get("attributes", {}) or loser_attributes.get(key) != value
    }
    gained = set(loser.get("tags", [])) - set(before.get("tags", []))
    survivor.tags = [tag for tag in survivor.tags if tag not in gained]
    for name in ("created_at", "last_seen_at"):
        if _plain(getattr(survivor, name)) == loser.get(name) and before.get(name):
            setattr(survivor, name, parse_datetime(before[name]))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _typed(name: str, value: Any) -> Any:
    if name == "birthday":
        return parse_date(value) if value else None
    if name == "user_id":
        return value
    return value if value is not None else ""
