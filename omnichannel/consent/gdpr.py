"""Data-subject requests: export everything held on a profile, and erase it.

Both walk every model with a foreign key to Profile, so rows of other domains are
included without registering. A model takes part in erasure by defining the
classmethod ``gdpr_erase(profile)``. Rows of a model without it are kept as they
are, linked to the anonymised profile, so a model with personal free text must
define the hook.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core import serializers
from django.db import transaction
from django.utils import timezone

from omnichannel.consent.models import ConsentRecord, DataSubjectRequest
from omnichannel.profiles.merging import lock_profiles
from omnichannel.profiles.models import Identity, Profile, ProfileMerge
from omnichannel.profiles.signals import profile_erased

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "omnichannel-export/1"
PROFILE_EXPORT_EXCLUDE = ("id", "merged_into")
# Profile fields that hold personal data; erasure empties them. Aggregates,
# country, language and currency stay, for revenue reports.
ERASED_PROFILE_FIELDS = {
    "email": "",
    "phone": "",
    "user": None,
    "first_name": "",
    "last_name": "",
    "time_zone": "",
    "birthday": None,
    "attributes": {},
    "tags": [],
}


def _relations() -> list[Any]:
    relations = []
    for relation in Profile._meta.get_fields(include_hidden=True):
        if not (relation.is_relation and relation.auto_created) or relation.concrete:
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        if relation.related_model is Profile:
            continue
        relations.append(relation)
    return relations


def _rows(relation: Any, profile: Profile) -> Any:
    return relation.related_model._default_manager.filter(
        **{relation.field.name: profile}
    )


def export_profile(
    profile: Profile, *, requested_by: str = "", via: str = ""
) -> dict[str, Any]:
    """Return everything held on ``profile`` as a JSON-serialisable dict.

    Profiles merged into it are included, and the export is recorded as a
    DataSubjectRequest.
    """
    merged = list(Profile.objects.filter(merged_into=profile))
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "profile": _fields(profile),
        "merged_profiles": [_fields(other) for other in merged],
        "related": {},
    }
    for relation in _relations():
        rows = _rows(relation, profile)
        if relation.related_model is ProfileMerge:
            continue
        serialised = _serialise(rows)
        if serialised:
            key = relation.related_model._meta.label
            if relation.field.name != "profile":
                key = f"{key}:{relation.field.name}"
            data["related"][key] = serialised
    merges = ProfileMerge.objects.filter(
        survivor=profile
    ) | ProfileMerge.objects.filter(loser=profile)
    data["merges"] = _serialise(merges)
    DataSubjectRequest.objects.create(
        kind=DataSubjectRequest.Kind.EXPORT,
        profile=profile,
        requested_by=requested_by[:150],
        via=via[:16],
        details={"related_rows": sum(len(v) for v in data["related"].values())},
    )
    logger.info("exported profile %s (via %s)", profile.pk, via or "-")
    return data


def _fields(profile: Profile) -> dict[str, Any]:
    (row,) = serializers.serialize("python", [profile])
    fields = {k: v for k, v in row["fields"].items() if k not in PROFILE_EXPORT_EXCLUDE}
    return _jsonable(fields)


def _serialise(rows: Any) -> list[dict[str, Any]]:
    return [
        _jsonable({"id": row["pk"], **row["fields"]})
        for row in serializers.serialize("python", rows)
    ]


def _jsonable(value: Any) -> Any:
    """Turn datetimes, decimals and uuids into strings, recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def address_digest(address: str) -> str:
    """Return the stored form of an erased address: ``sha256:`` and the hex digest,
    so that a person who presents the address can still be matched to the proof."""
    return "sha256:" + hashlib.sha256(address.strip().lower().encode()).hexdigest()


def erase_profile(
    profile: Profile, *, requested_by: str = "", via: str = ""
) -> DataSubjectRequest:
    """Anonymise a profile and every profile merged into it; keep the consent proof.

    Identifiers and stated preferences are deleted, free-text event properties are
    dropped, personal profile fields are emptied, and consent records keep only a
    digest of the address. Sends ``profile_erased`` inside the transaction. Erasing
    an erased profile changes nothing and returns the earlier request.
    """
    with transaction.atomic():
        profiles = [profile, *_merged_into(profile)]
        locked = lock_profiles([p.pk for p in profiles])
        profile = locked[profile.pk]
        if profile.erased_at is not None:
            earlier = (
                DataSubjectRequest.objects.filter(
                    profile=profile, kind=DataSubjectRequest.Kind.ERASURE
                )
                .order_by("-completed_at")
                .first()
            )
            if earlier is not None:
                return earlier
        identities = list(
            Identity.objects.filter(profile__in=list(locked)).values_list(
                "kind", "value"
            )
        )
        counts: dict[str, int] = {}
        for target in locked.values():
            for label, count in _erase_one(target).items():
                counts[label] = counts.get(label, 0) + count
        request = DataSubjectRequest.objects.create(
            kind=DataSubjectRequest.Kind.ERASURE,
            profile=profile,
            requested_by=requested_by[:150],
            via=via[:16],
            details={"rows_changed": counts, "profiles": sorted(locked)},
        )
        logger.info(
            "erased profile %s and %d merged profiles (via %s)",
            profile.pk,
            len(locked) - 1,
            via or "-",
        )
        profile.refresh_from_db()
        profile_erased.send(sender=Profile, profile=profile, identities=identities)
    return request


def _merged_into(profile: Profile) -> list[Profile]:
    found: list[Profile] = []
    frontier = [profile.pk]
    while frontier:
        batch = list(Profile.objects.filter(merged_into__in=frontier))
        found.extend(batch)
        frontier = [p.pk for p in batch]
    return found


def _erase_one(profile: Profile) -> dict[str, int]:
    counts: dict[str, int] = {}
    addresses = {
        row.pk: row.address
        for row in ConsentRecord.objects.filter(profile=profile).exclude(address="")
    }
    for pk, address in addresses.items():
        if not address.startswith("sha256:"):
            ConsentRecord.objects.filter(pk=pk).update(address=address_digest(address))
    counts[ConsentRecord._meta.label] = len(addresses)

    for relation in _relations():
        hook = getattr(relation.related_model, "gdpr_erase", None)
        if hook is not None and relation.field.name == "profile":
            counts[relation.related_model._meta.label] = hook(profile)

    for merge in ProfileMerge.objects.filter(
        survivor=profile
    ) | ProfileMerge.objects.filter(loser=profile):
        merge.loser_fields = {}
        merge.survivor_fields = {}
        merge.save(update_fields=["loser_fields", "survivor_fields"])

    Profile.objects.filter(pk=profile.pk).update(
        **ERASED_PROFILE_FIELDS, erased_at=timezone.now()
    )
    return counts
