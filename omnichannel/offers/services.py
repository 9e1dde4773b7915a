"""Issuing offer codes, checking and claiming them, and moving each customer's state.

State changes are written with conditional UPDATEs (``... WHERE state = 'issued'``),
so two workers that change one customer's offer at once cannot both succeed, and each
change records one event (``offer_issued``, ``offer_seen``, ``offer_claimed``) in the
same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.exceptions import DiscountCodeTaken, OfferCodeRejected, OfferError
from omnichannel.offers.codes import normalise_code, unused_codes
from omnichannel.offers.models import CustomerOffer, Offer, OfferCode
from omnichannel.offers.shop import create_shop_codes, require_code_adapter
from omnichannel.profiles.models import Event, Profile
from omnichannel.profiles.services import announce_events

logger = logging.getLogger(__name__)

State = CustomerOffer.State
OPEN_STATES = (State.ISSUED, State.SEEN)
# Attempts at inserting codes when a concurrent insert or the shop took one of them.
ISSUE_ATTEMPTS = 5
# Customers issued per transaction by issue_codes().
ISSUE_CHUNK = 500
MAX_MERGE_HOPS = 10


def get_offer(offer: Offer | str) -> Offer:
    """Return ``offer``, or the offer with that slug; raise OfferError if none."""
    if isinstance(offer, Offer):
        return offer
    found = Offer.objects.filter(slug=offer).first()
    if found is None:
        raise OfferError(
            "unknown_offer",
            str(_("No offer has the slug “%(slug)s”.") % {"slug": offer}),
            field="slug",
        )
    return found


def live_profile(profile: Profile) -> Profile:
    """Follow ``merged_into`` to the profile the customer's data was merged into."""
    seen = {profile.pk}
    while profile.merged_into_id is not None and len(seen) < MAX_MERGE_HOPS:
        if profile.merged_into_id in seen:
            break
        seen.add(profile.merged_into_id)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


# Issuing


def check_issuable(offer: Offer, profile: Profile, at: datetime) -> None:
    """Raise OfferError unless ``offer`` may be issued to ``profile`` at ``at``."""
    _check_offer_window(offer, at)
    if profile.erased_at is not None:
        raise OfferError(
            "erased",
            str(
                _("Profile %(id)s was erased; it gets no offers.") % {"id": profile.pk}
            ),
        )
    if offer.segments.exists() and not _in_audience(offer, [profile.pk]):
        raise OfferError(
            "not_in_audience",
            str(
                _("The customer is in none of the audience segments of “%(offer)s”.")
                % {"offer": offer.slug}
            ),
            field="segments",
        )


def _check_offer_window(offer: Offer, at: datetime) -> None:
    if not offer.is_active:
        raise OfferError(
            "inactive",
            str(_("The offer “%(offer)s” is not active.") % {"offer": offer.slug}),
            field="is_active",
        )
    if offer.starts_at is not None and at < offer.starts_at:
        raise OfferError(
            "not_started",
            str(
                _("The offer “%(offer)s” starts at %(date)s.")
                % {"offer": offer.slug, "date": _format_date(offer.starts_at)}
            ),
            field="starts_at",
        )
    if offer.ends_at is not None and at >= offer.ends_at:
        raise OfferError(
            "ended",
            str(
                _("The offer “%(offer)s” ended at %(date)s.")
                % {"offer": offer.slug, "date": _format_date(offer.ends_at)}
            ),
            field="ends_at",
        )


def _in_audience(offer: Offer, profile_ids: list[int]) -> set[int]:
    """Return the ids among ``profile_ids`` with an open membership in the audience."""
    from omnichannel.segments.models import SegmentMembership

    return set(
        SegmentMembership.objects.filter(
            segment__in=offer.segments.all(),
            profile_id__in=profile_ids,
            exited_at__isnull=True,
        ).values_list("profile_id", flat=True)
    )


def issue_code(
    offer: Offer | str,
    profile: Profile,
    *,
    source: str = "",
    at: datetime | None = None,
    renew_expired: bool = False,
) -> CustomerOffer:
    """Give ``profile`` a code for ``offer`` and return their CustomerOffer.

    Idempotent per customer and offer: a customer who has the offer gets their row
    back, in whatever state, and no second code. With ``renew_expired``, a code
    that expired unused is replaced by a fresh one on the same row (see
    renew_code), as a journey that sends the offer again wants. When the offer's
    ``create_in_shop`` is set, a new code is also created in the shop through the
    shop adapter, in the caller's transaction. Raises OfferError when the offer
    cannot be issued to this customer now.
    """
    offer = get_offer(offer)
    at = at or timezone.now()
    profile = live_profile(profile)
    existing = CustomerOffer.objects.filter(offer=offer, profile=profile).first()
    if existing is not None:
        existing.offer = offer
        if renew_expired and existing.state_at(at) == State.EXPIRED:
            return renew_code(existing, source=source, at=at)
        return existing
    check_issuable(offer, profile, at)

    result = _issue_many(offer, [profile], source=source, at=at)
    if result.created:
        return result.created[0]
    existing = CustomerOffer.objects.filter(offer=offer, profile=profile).first()
    if existing is not None:
        return existing
    reason, _count = next(iter(result.rejected.items()))
    raise OfferError(reason, _limit_message(offer), field="max_codes")


def renew_code(
    customer_offer: CustomerOffer, *, source: str = "", at: datetime | None = None
) -> CustomerOffer:
    """Replace the expired, unused code of a customer's offer with a fresh one.

    The row becomes issued again with a new code and validity, so the customer
    keeps one state per offer; the old code stays expired. A claimed offer is
    returned unchanged. Raises OfferError when the offer cannot be issued to the
    customer now.
    """
    at = at or timezone.now()
    offer = customer_offer.offer
    check_issuable(offer, customer_offer.profile, at)
    adapter = require_code_adapter() if offer.create_in_shop else None
    for attempt in range(1, ISSUE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                locked = (
                    CustomerOffer.objects.select_for_update()
                    .filter(pk=customer_offer.pk)
                    .first()
                )
                if locked is None:
                    raise OfferError(
                        "unknown_offer",
                        str(_("The customer's offer no longer exists.")),
                    )
                locked.offer = offer
                if locked.state_at(at) != State.EXPIRED:
                    # Claimed, or renewed by another worker a moment ago.
                    return locked
                locked.state = State.ISSUED
                locked.issued_at = at
                locked.valid_until = offer.code_valid_until(at)
                locked.seen_at = None
                locked.expired_at = None
                locked.source = source[:200]
                locked.save(
                    update_fields=[
                        "state",
                        "issued_at",
                        "valid_until",
                        "seen_at",
                        "expired_at",
                        "source",
                    ]
                )
                codes = _create_codes(offer, [locked], adapter, locked.valid_until)
                _record_events(
                    "offer_issued", [locked], codes, at, {"source": source[:200]}
                )
                return locked
        except (IntegrityError, DiscountCodeTaken):
            if attempt == ISSUE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@dataclass
class IssueResult:
    """Outcome of issue_codes(): rows created, customers who had one, rejections."""

    created: list[CustomerOffer] = field(default_factory=list)
    existing: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


def issue_codes(
    offer: Offer | str,
    profiles: Iterable[Profile | int],
    *,
    source: str = "",
    at: datetime | None = None,
) -> IssueResult:
    """Issue codes to many customers at once, as a campaign or a segment send does.

    Customers who have the offer keep their row, erased profiles and those outside
    the audience are rejected, and the offer's code limit stops the issue when
    reached. Codes are drawn in bulk without collisions and written in one
    transaction per chunk of ISSUE_CHUNK customers. Raises OfferError when the
    offer is inactive or outside its dates.
    """
    offer = get_offer(offer)
    at = at or timezone.now()
    _check_offer_window(offer, at)
    ids: list[int] = list(
        dict.fromkeys(getattr(profile, "pk", profile) for profile in profiles)
    )
    result = IssueResult()
    for start in range(0, len(ids), ISSUE_CHUNK):
        chunk = _issuable_profiles(offer, ids[start : start + ISSUE_CHUNK], result)
        part = _issue_many(offer, chunk, source=source, at=at)
        result.created += part.created
        result.existing += part.existing
        for reason, count in part.rejected.items():
            result.rejected[reason] = result.rejected.get(reason, 0) + count
    logger.info(
        "offer %s: %d codes issued, %d customers had one, %d rejected",
        offer.slug,
        len(result.created),
        result.existing,
        sum(result.rejected.values()),
    )
    return result


def _issuable_profiles(
    offer: Offer, ids: list[int], result: IssueResult
) -> list[Profile]:
    profiles = list(
        Profile.objects.filter(
            pk__in=ids, merged_into__isnull=True, erased_at__isnull=True
        )
    )
    unavailable = len(ids) - len(profiles)
    if unavailable:
        result.rejected["erased_or_merged"] = (
            result.rejected.get("erased_or_merged", 0) + unavailable
        )
    if offer.segments.exists():
        members = _in_audience(offer, [profile.pk for profile in profiles])
        outside = len(profiles) - len(members)
        if outside:
            result.rejected["not_in_audience"] = (
                result.rejected.get("not_in_audience", 0) + outside
            )
        profiles = [profile for profile in profiles if profile.pk in members]
    return profiles


def _issue_many(
    offer: Offer, profiles: list[Profile], *, source: str, at: datetime
) -> IssueResult:
    """Create rows, codes and events for customers who do not hold the offer yet."""
    adapter = require_code_adapter() if offer.create_in_shop else None
    for attempt in range(1, ISSUE_ATTEMPTS + 1):
        result = IssueResult()
        try:
            with transaction.atomic():
                _write_issue(offer, profiles, adapter, source, at, result)
            return result
        except (IntegrityError, DiscountCodeTaken) as error:
            # Another worker issued to one of these customers, or drew or created
            # the same code, between our checks and our insert. The savepoint
            # undid this attempt, shop codes included, so it is safe to retry.
            if attempt == ISSUE_ATTEMPTS:
                raise
            logger.info(
                "offer %s: issue raced (%s) on attempt %d, retrying",
                offer.slug,
                type(error).__name__,
                attempt,
            )
    raise AssertionError("unreachable")


def _write_issue(
    offer: Offer,
    profiles: list[Profile],
    adapter: Any,
    source: str,
    at: datetime,
    result: IssueResult,
) -> None:
    holders = set(
        CustomerOffer.objects.filter(
            offer=offer, profile__in=[profile.pk for profile in profiles]
        ).values_list("profile_id", flat=True)
    )
    result.existing = len(holders)
    todo = [profile for profile in profiles if profile.pk not in holders]
    if offer.max_codes is not None and todo:
        # The row lock makes concurrent issues of a limited offer count in turn.
        Offer.objects.select_for_update().filter(pk=offer.pk).first()
        room = max(offer.max_codes - offer.customer_offers.count(), 0)
        if len(todo) > room:
            result.rejected["limit_reached"] = len(todo) - room
            todo = todo[:room]
    if not todo:
        return

    valid_until = offer.code_valid_until(at)
    rows = CustomerOffer.objects.bulk_create(
        CustomerOffer(
            offer=offer,
            profile=profile,
            state=State.ISSUED,
            source=source[:200],
            issued_at=at,
            valid_until=valid_until,
        )
        for profile in todo
    )
    for row, profile in zip(rows, todo, strict=True):
        row.profile = profile
        row.offer = offer
    codes = _create_codes(offer, rows, adapter, valid_until)
    _record_events("offer_issued", rows, codes, at, {"source": source[:200]})
    result.created = rows


def _create_codes(
    offer: Offer, rows: list[CustomerOffer], adapter: Any, valid_until: Any
) -> dict[int, str]:
    """Draw one unused code per row, create it in the shop, store it; return them."""
    codes = unused_codes(len(rows), offer.code_prefix)
    if adapter is not None:
        shop_codes = create_shop_codes(
            adapter,
            offer,
            codes,
            valid_until=valid_until,
            profiles=[row.profile for row in rows],
        )
    else:
        shop_codes = [""] * len(codes)
    OfferCode.objects.bulk_create(
        OfferCode(customer_offer=row, code=code, shop_code=shop_code or "")
        for row, code, shop_code in zip(rows, codes, shop_codes, strict=True)
    )
    return {row.pk: code for row, code in zip(rows, codes, strict=True)}


def _limit_message(offer: Offer) -> str:
    return str(
        _("All %(count)s codes of the offer “%(offer)s” have been issued.")
        % {"count": offer.max_codes, "offer": offer.slug}
    )


def _record_events(
    name: str,
    rows: list[CustomerOffer],
    codes: dict[int, str],
    at: datetime,
    extra: dict[str, Any],
) -> None:
    """Store one event per row in one INSERT and announce each, as track() does."""
    events = Event.objects.bulk_create(
        Event(
            profile_id=row.profile_id,
            name=name,
            occurred_at=at,
            source="offers",
            properties={
                "offer": row.offer.slug,
                "code": codes.get(row.pk, ""),
                **extra,
            },
            object_type="offer",
            object_id=row.offer.slug,
            # A renewed row gets a second code, and its events a second key.
            idempotency_key=f"{name}:{row.pk}:{codes.get(row.pk, '')}",
        )
        for row in rows
    )
    announce_events(events, {row.profile_id: row.profile for row in rows})


# Reading a code


def find_customer_offer(code: str) -> CustomerOffer | None:
    """Return the CustomerOffer that ``code`` (in any letter case) redeems, or None."""
    normalised = normalise_code(code)
    if not normalised:
        return None
    return (
        CustomerOffer.objects.filter(codes__code=normalised)
        .select_related("offer", "profile")
        .first()
    )


def check_code(
    code: str, profile: Profile | None, *, at: datetime | None = None
) -> CustomerOffer:
    """Return the customer's offer that ``code`` redeems if they can use it at ``at``.

    Raises OfferCodeRejected with the reason; nothing is written.
    """
    at = at or timezone.now()
    customer_offer = find_customer_offer(code)
    if customer_offer is None:
        raise _rejected("unknown", code)
    _check_usable(customer_offer, code, profile, at)
    if (
        customer_offer.offer.max_claims is not None
        and _claims_left(customer_offer.offer) <= 0
    ):
        raise _rejected("sold_out", code)
    return customer_offer


def _check_usable(
    customer_offer: CustomerOffer, code: str, profile: Profile | None, at: datetime
) -> None:
    offer = customer_offer.offer
    if profile is None:
        raise _rejected("sign_in_required", code)
    if not _same_customer(customer_offer.profile_id, profile):
        raise _rejected("not_yours", code)
    if customer_offer.state == State.CLAIMED:
        raise _rejected("claimed", code)
    if not offer.is_active:
        raise _rejected("withdrawn", code)
    if offer.starts_at is not None and at < offer.starts_at:
        raise _rejected("not_started", code, date=offer.starts_at)
    ends = [d for d in (customer_offer.valid_until, offer.ends_at) if d is not None]
    if ends and at >= min(ends):
        raise _rejected("expired", code, date=min(ends))


def _same_customer(owner_id: int, profile: Profile) -> bool:
    if owner_id == profile.pk:
        return True
    # The caller may hold a profile that was merged since it was loaded.
    current = Profile.objects.filter(pk=profile.pk).values_list(
        "merged_into_id", flat=True
    )
    merged_into = current.first()
    hops = 0
    while merged_into is not None and hops < MAX_MERGE_HOPS:
        if merged_into == owner_id:
            return True
        merged_into = (
            Profile.objects.filter(pk=merged_into)
            .values_list("merged_into_id", flat=True)
            .first()
        )
        hops += 1
    return False


def _claims_left(offer: Offer) -> int:
    claimed = offer.customer_offers.filter(state=State.CLAIMED).count()
    return (offer.max_claims or 0) - claimed


REJECTION_MESSAGES = {
    "unknown": _(
        "The code “%(code)s” does not exist. Check the spelling and try again."
    ),
    "not_yours": _(
        "The code “%(code)s” was issued to another customer and only works for them. "
        "Log in with the account it was sent to."
    ),
    "sign_in_required": _(
        "The code “%(code)s” is personal. Log in, or open the link in the message "
        "that brought it, to use it."
    ),
    "claimed": _("The code “%(code)s” has already been used."),
    "expired": _("The code “%(code)s” expired on %(date)s."),
    "not_started": _("The code “%(code)s” can be used from %(date)s."),
    "withdrawn": _("The offer behind the code “%(code)s” has been withdrawn."),
    "sold_out": _(
        "The offer behind the code “%(code)s” has reached its limit of orders."
    ),
}


def _rejected(
    reason: str, code: str, *, date: datetime | None = None
) -> OfferCodeRejected:
    params = {"code": normalise_code(code)[:40], "date": _format_date(date)}
    return OfferCodeRejected(reason, str(REJECTION_MESSAGES[reason] % params))


def _format_date(value: datetime | None) -> str:
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def find_customer(*, email: str | None = None, user: Any = None) -> Profile | None:
    """Return the profile of a shop user or an email address, without creating one."""
    from omnichannel.exceptions import InvalidIdentifier
    from omnichannel.profiles.models import Identity
    from omnichannel.profiles.normalise import normalise_email

    if user is not None and getattr(user, "pk", None) is not None:
        profile = Profile.objects.filter(user_id=user.pk).first()
        if profile is not None:
            return live_profile(profile)
    if email:
        try:
            value = normalise_email(email)
        except InvalidIdentifier:
            return None
        identity = (
            Identity.objects.filter(kind=Identity.Kind.EMAIL, value=value)
            .select_related("profile")
            .first()
        )
        if identity is not None:
            return live_profile(identity.profile)
    return None


def check_offer_code(
    code: str,
    *,
    profile: Profile | None = None,
    email: str | None = None,
    user: Any = None,
    at: datetime | None = None,
) -> CustomerOffer | None:
    """Check a code typed at a checkout; return None when it is not an offer code.

    The customer is ``profile``, or the profile of ``user`` or ``email``. Returns
    the customer's offer when they may use the code, and None for a code this app
    did not issue (the shop's own codes), which the shop validates itself. Raises
    OfferCodeRejected for an offer code the customer cannot use.
    """
    if find_customer_offer(code) is None:
        return None
    if profile is None:
        profile = find_customer(email=email, user=user)
    return check_code(code, profile, at=at)


# Changing the state


def mark_seen(
    customer_offer: CustomerOffer, *, at: datetime | None = None, channel: str = ""
) -> bool:
    """Record that the customer saw their code; return whether the state changed.

    Only an issued, unexpired offer becomes seen; the change and its event happen
    once, however many pages show the code at the same moment.
    """
    at = at or timezone.now()
    if customer_offer.state_at(at) != State.ISSUED:
        return False
    with transaction.atomic():
        changed = CustomerOffer.objects.filter(
            pk=customer_offer.pk, state=State.ISSUED
        ).update(state=State.SEEN, seen_at=at)
        if not changed:
            return False
        customer_offer.state = State.SEEN
        customer_offer.seen_at = at
        _record_events(
            "offer_seen",
            [customer_offer],
            {customer_offer.pk: primary_code(customer_offer)},
            at,
            {"channel": channel[:32]},
        )
    return True


def claim_code(
    code: str,
    profile: Profile | None,
    *,
    order_id: str = "",
    revenue: Decimal | None = None,
    currency: str = "",
    channel: str = "",
    at: datetime | None = None,
) -> CustomerOffer:
    """Mark the customer's offer claimed by an order and return it.

    Runs in the caller's transaction and locks the customer's offer row, so of two
    orders that use one code at once exactly one claims it and the other gets
    OfferCodeRejected ``claimed``. The same order reported again is accepted and
    changes nothing. Every other rejection raises OfferCodeRejected and writes
    nothing. ``at`` is the time of the order, so an order placed before the code
    expired but reported later still counts.
    """
    at = at or timezone.now()
    normalised = normalise_code(code)
    with transaction.atomic():
        customer_offer = _lock_customer_offer(normalised)
        if customer_offer is None:
            raise _rejected("unknown", normalised)
        if (
            customer_offer.state == State.CLAIMED
            and order_id
            and customer_offer.order_id == str(order_id)
        ):
            return customer_offer
        _check_usable(customer_offer, normalised, profile, at)
        offer = customer_offer.offer
        if offer.max_claims is not None:
            Offer.objects.select_for_update().filter(pk=offer.pk).first()
            if _claims_left(offer) <= 0:
                raise _rejected("sold_out", normalised)

        fields = {
            "state": State.CLAIMED,
            "claimed_at": at,
            "order_id": str(order_id)[:64],
            "claim_channel": channel[:32],
            "revenue": revenue,
            "currency": currency[:3],
        }
        changed = (
            CustomerOffer.objects.filter(pk=customer_offer.pk)
            .exclude(state=State.CLAIMED)
            .update(**fields)
        )
        if changed != 1:
            # Unreachable while the row lock holds; kept for databases without
            # SELECT ... FOR UPDATE, where the conditional UPDATE decides.
            raise _rejected("claimed", normalised)
        for name, value in fields.items():
            setattr(customer_offer, name, value)
        _record_events(
            "offer_claimed",
            [customer_offer],
            {customer_offer.pk: normalised},
            at,
            {"order_id": str(order_id)[:64], "channel": channel[:32]},
        )
    logger.info(
        "offer %s claimed by profile %s through %s",
        offer.slug,
        customer_offer.profile_id,
        channel or "unknown channel",
    )
    return customer_offer


def _lock_customer_offer(normalised: str) -> CustomerOffer | None:
    # FOR UPDATE OF the customer's offer row alone: locking the offer row as well
    # would make every claim of a campaign wait for the others.
    return (
        CustomerOffer.objects.select_for_update(of=("self",))
        .select_related("offer")
        .filter(codes__code=normalised)
        .first()
    )


def claim_order_codes(event: Event, profile: Profile) -> list[CustomerOffer]:
    """Claim the offer codes among an order event's ``discount_codes``.

    Codes the app did not issue (the shop's own codes) are left alone. Raises
    OfferCodeRejected for an offer code that the order may not use, which rolls
    back the transaction that stores the order event.
    """
    codes = event.properties.get("discount_codes") or []
    if not isinstance(codes, list):
        logger.warning(
            "event %s: discount_codes is %s, not a list; no offer claimed",
            event.pk,
            type(codes).__name__,
        )
        return []
    given = {normalise_code(code) for code in codes if isinstance(code, str)}
    given.discard("")
    if not given:
        return []
    ours = list(OfferCode.objects.filter(code__in=given).values_list("code", flat=True))
    order_id = event.properties.get("order_id") or event.object_id
    claimed = []
    for code in sorted(ours):
        claimed.append(
            claim_code(
                code,
                profile,
                order_id=str(order_id or ""),
                revenue=event.revenue,
                currency=event.currency,
                channel=event.source,
                at=event.occurred_at,
            )
        )
    return claimed


def expire_due(at: datetime | None = None) -> int:
    """Store the expired state of open offers whose code ended; return how many."""
    at = at or timezone.now()
    count = CustomerOffer.objects.filter(
        Q(state__in=OPEN_STATES), valid_until__lte=at
    ).update(state=State.EXPIRED, expired_at=at)
    if count:
        logger.info("%d customer offers expired", count)
    return count


def primary_code_subquery() -> Subquery:
    """Return a subquery of each customer offer's primary code, for annotate()."""
    return Subquery(
        OfferCode.objects.filter(customer_offer=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("code")[:1]
    )


def primary_code(customer_offer: CustomerOffer) -> str:
    """Return the code shown to the customer: the newest one issued to them.

    Reads the ``primary_code`` annotation (see primary_code_subquery) when the row
    has one, else queries.
    """
    annotated = getattr(customer_offer, "primary_code", None)
    if annotated is not None:
        return annotated
    return (
        OfferCode.objects.filter(customer_offer=customer_offer)
        .order_by("-created_at", "-id")
        .values_list("code", flat=True)
        .first()
        or ""
    )
