"""Keep each ad platform audience in step with its segment.

A sync has two steps. Planning compares the segment's eligible members with the
rows of :class:`AudienceMember` and marks who must be added or removed, in one
transaction. Eligible members have an open membership, ads consent at the time of
the run and at least one identifier the platform can match, and are not erased.

Sending then works through those rows in batches: removals first, so that a changed
identifier is removed before its new value is added, then additions, then removals
that arrived meanwhile.

Every batch is marked ``in_flight`` before its request and recorded after the
response, so a run that stops half-way leaves the rest pending and the next run
carries on without sending the recorded batches again.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from omnichannel.audiences.hashing import Contact
from omnichannel.audiences.models import (
    Audience,
    AudienceMember,
    MemberState,
    SyncRun,
    SyncStatus,
)
from omnichannel.audiences.platforms import get_platform
from omnichannel.audiences.platforms.base import AdPlatform, BatchResult, MemberRow
from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel, ConsentRecord, Purpose
from omnichannel.exceptions import AudiencePlatformError, PlatformNotConfigured
from omnichannel.segments.models import SegmentMembership

logger = logging.getLogger(__name__)

State = MemberState
READ_CHUNK = 10_000
WRITE_CHUNK = 500
MAX_REQUEST_IDS = 100
# Back-off after failed runs: 5, 10, 20 ... minutes, never beyond the sync interval.
FAILURE_BACKOFF = timedelta(minutes=5)


@dataclass
class Plan:
    """Counts from planning one audience."""

    segment_size: int = 0
    eligible: int = 0
    adds: int = 0
    removes: int = 0


# Eligible members


def ads_consent(at: datetime) -> Subquery:
    """Return the latest ads/marketing ledger row's ``granted`` per profile at ``at``.

    It is a correlated subquery, so a whole segment's consent is read in one query,
    and the ledger decides, never a copy.
    """
    latest = (
        ConsentRecord.objects.filter(
            profile_id=OuterRef("profile_id"),
            channel=Channel.ADS,
            purpose=Purpose.MARKETING,
            recorded_at__lte=at,
        )
        .order_by("-recorded_at", "-id")
        .values("granted")[:1]
    )
    return Subquery(latest)


def eligible_contacts(audience: Audience, at: datetime) -> Iterator[Contact]:
    """Yield the raw identifiers of the segment's members with ads consent at ``at``."""
    rows = (
        SegmentMembership.objects.filter(
            segment_id=audience.segment_id,
            exited_at__isnull=True,
            profile__erased_at__isnull=True,
            profile__merged_into__isnull=True,
        )
        .annotate(ads_granted=ads_consent(at))
        .filter(ads_granted=True)
        .values_list(
            "profile_id",
            "profile__email",
            "profile__phone",
            "profile__first_name",
            "profile__last_name",
            "profile__country",
        )
    )
    for values in rows.iterator(chunk_size=READ_CHUNK):
        yield Contact(*values)


def segment_size(audience: Audience) -> int:
    return SegmentMembership.objects.filter(
        segment_id=audience.segment_id, exited_at__isnull=True
    ).count()


# Planning


@dataclass
class PlannedRow:
    """The planning fields of one AudienceMember row, read without building a model."""

    id: int
    profile_id: int | None
    state: str
    pending: MemberRow | None
    uploaded: MemberRow | None
    in_flight: bool
    error: str
    removed_at: datetime | None


#: An AudienceMember, or the PlannedRow read in its place while planning.
Member = AudienceMember | PlannedRow


def on_platform(member: Member) -> MemberRow | None:
    """Return the hashes the platform may hold for this member, or None."""
    if member.state in (State.ADDED, State.PENDING_REMOVE):
        return member.uploaded
    if member.state == State.PENDING_ADD and member.in_flight:
        # A request carrying the row got no response, so it may have been applied.
        return member.pending
    return None


def want(member: Member, hashes: MemberRow) -> bool:
    """Move ``member`` towards the platform holding ``hashes``; tell if it changed."""
    platform_hashes = on_platform(member)
    if platform_hashes is None:
        if (
            member.state in (State.PENDING_ADD, State.REJECTED)
            and member.pending == hashes
        ):
            return False
        _set(member, State.PENDING_ADD, pending=hashes, uploaded=None)
        return True
    if platform_hashes == hashes and member.state in (State.ADDED, State.PENDING_ADD):
        return False
    if member.state == State.PENDING_REMOVE:
        if member.pending == hashes:
            return False
        member.pending = hashes
        return True
    # The identifiers changed: remove what the platform holds, then add the new ones.
    _set(member, State.PENDING_REMOVE, pending=hashes, uploaded=platform_hashes)
    return True


def drop(member: Member) -> bool:
    """Move ``member`` towards being off the platform; tell if changed."""
    platform_hashes = on_platform(member)
    if platform_hashes is None:
        if member.state == State.REMOVED and not member.pending and not member.uploaded:
            return False
        _set(member, State.REMOVED, pending=None, uploaded=None)
        member.removed_at = member.removed_at or timezone.now()
        return True
    if member.state == State.PENDING_REMOVE and member.pending is None:
        return False
    _set(member, State.PENDING_REMOVE, pending=None, uploaded=platform_hashes)
    return True


def _set(
    member: Member,
    state: str,
    *,
    pending: MemberRow | None,
    uploaded: MemberRow | None,
) -> None:
    member.state = state
    member.pending = pending
    member.uploaded = uploaded
    member.in_flight = False
    member.error = ""


PLAN_FIELDS = ["state", "pending", "uploaded", "in_flight", "error", "removed_at"]


def plan_audience(audience: Audience, platform: AdPlatform, at: datetime) -> Plan:
    """Mark who must be added to or removed from the platform, in one transaction."""
    plan = Plan(segment_size=segment_size(audience))
    desired: dict[int, MemberRow] = {}
    for contact in eligible_contacts(audience, at):
        hashes = platform.hash_contact(contact)
        if hashes:
            desired[contact.profile_id] = hashes
    plan.eligible = len(desired)

    with transaction.atomic():
        rows = AudienceMember.objects.filter(audience=audience).values_list(
            "id", "profile_id", *PLAN_FIELDS
        )
        changed: list[AudienceMember] = []
        seen: set[int] = set()
        for values in rows.iterator(chunk_size=READ_CHUNK):
            row = PlannedRow(*values)
            target_hashes = desired.get(row.profile_id) if row.profile_id else None
            if row.profile_id is not None and target_hashes is not None:
                seen.add(row.profile_id)
                moved = want(row, target_hashes)
            else:
                moved = drop(row)
            if moved:
                fields = {name: getattr(row, name) for name in PLAN_FIELDS}
                changed.append(AudienceMember(id=row.id, updated_at=at, **fields))
        created = [
            AudienceMember(
                audience=audience,
                profile_id=profile_id,
                state=State.PENDING_ADD,
                pending=hashes,
                updated_at=at,
            )
            for profile_id, hashes in desired.items()
            if profile_id not in seen
        ]
        AudienceMember.objects.bulk_update(
            changed, [*PLAN_FIELDS, "updated_at"], batch_size=WRITE_CHUNK
        )
        AudienceMember.objects.bulk_create(created, batch_size=WRITE_CHUNK)

    counts = state_counts(audience)
    plan.adds = counts.get(State.PENDING_ADD, 0)
    plan.removes = counts.get(State.PENDING_REMOVE, 0)
    return plan


def state_counts(audience: Audience) -> dict[str, int]:
    rows = (
        AudienceMember.objects.filter(audience=audience)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return dict(rows)


# Sending


class LeaseLost(Exception):
    """Another worker took over the audience after this run's lease expired."""


def send_pending(
    audience: Audience,
    platform: AdPlatform,
    run: SyncRun,
    lease: str,
    *,
    removals_only: bool = False,
) -> None:
    """Send the pending rows in batches: removals, additions, late removals."""
    steps = (
        [State.PENDING_REMOVE]
        if removals_only
        else [
            State.PENDING_REMOVE,
            State.PENDING_ADD,
            State.PENDING_REMOVE,
        ]
    )
    for state in steps:
        for batch in pending_batches(audience, state, platform.batch_size):
            send_batch(audience, platform, run, state, batch)
            if not renew_lease(audience.pk, lease):
                raise LeaseLost(f"the lease on audience {audience.pk} expired")


def pending_batches(
    audience: Audience, state: str, size: int
) -> Iterator[list[AudienceMember]]:
    """Yield the rows in ``state`` in id order, ``size`` at a time."""
    rows = AudienceMember.objects.filter(audience=audience, state=state)
    if state == State.PENDING_ADD:
        # A profile erased after planning is never uploaded. Planning reads without
        # row locks, so this check closes the gap before the erasure's own removal.
        rows = rows.exclude(profile__erased_at__isnull=False)
    after = 0
    while True:
        batch = list(
            rows.filter(id__gt=after)
            .order_by("id")
            .only("id", "profile_id", "pending", "uploaded")[:size]
        )
        if not batch:
            return
        after = batch[-1].id
        yield batch


def send_batch(
    audience: Audience,
    platform: AdPlatform,
    run: SyncRun,
    state: str,
    batch: Sequence[AudienceMember],
) -> None:
    """Send one batch and record the platform's response row by row."""
    removing = state == State.PENDING_REMOVE
    ids = [member.id for member in batch]
    # A row without hashes has nothing to send and is recorded as it is.
    sent: list[tuple[int, MemberRow]] = []
    for member in batch:
        row = member.uploaded if removing else member.pending
        if row:
            sent.append((member.id, row))
    _update(ids, in_flight=True)
    result = BatchResult(received=0)
    try:
        if sent and removing:
            result = platform.remove_members(audience, [row for _, row in sent])
        elif sent:
            result = platform.add_members(audience, [row for _, row in sent])
    except AudiencePlatformError as error:
        if not error.in_doubt:
            _update(ids, in_flight=False)
        raise

    now = timezone.now()
    rejected = {sent[index][0]: reason for index, reason in result.invalid.items()}
    with transaction.atomic():
        if removing:
            record_removed(ids, now)
        else:
            record_added(ids, rejected, now)
    accepted = len(ids) - len(rejected)
    if removing:
        run.removed += len(ids)
    else:
        run.added += accepted
        run.rejected += len(rejected)
    run.requests += 1 if sent else 0
    run.request_ids = (run.request_ids + result.request_ids)[-MAX_REQUEST_IDS:]
    run.save(update_fields=["added", "removed", "rejected", "requests", "request_ids"])
    logger.info(
        "Audience %s: %s batch of %d sent, %d accepted, %d rejected",
        audience.pk,
        "remove" if removing else "add",
        len(ids),
        accepted,
        len(rejected),
    )
    for member_id, reason in list(rejected.items())[:10]:
        logger.warning(
            "Audience %s: platform rejected member row %s: %s",
            audience.pk,
            member_id,
            reason,
        )


def record_removed(ids: Sequence[int], now: datetime) -> None:
    """Mark removed rows; a row whose identifiers changed goes back to be added.

    Rows whose state changed while the request was out (a concurrent erasure) keep it.
    """
    for chunk in _chunks(ids):
        rows = AudienceMember.objects.filter(id__in=chunk, state=State.PENDING_REMOVE)
        rows.filter(pending__isnull=False).update(
            state=State.PENDING_ADD, uploaded=None, in_flight=False, updated_at=now
        )
        rows.filter(pending__isnull=True).update(
            state=State.REMOVED,
            uploaded=None,
            in_flight=False,
            removed_at=now,
            updated_at=now,
        )


def record_added(ids: Sequence[int], rejected: dict[int, str], now: datetime) -> None:
    """Mark accepted rows as added and rejected rows with the platform's reason."""
    accepted = [member_id for member_id in ids if member_id not in rejected]
    for chunk in _chunks(accepted):
        AudienceMember.objects.filter(id__in=chunk, state=State.PENDING_ADD).update(
            state=State.ADDED,
            uploaded=F("pending"),
            pending=None,
            in_flight=False,
            error="",
            added_at=now,
            updated_at=now,
        )
    by_reason: dict[str, list[int]] = defaultdict(list)
    for member_id, reason in rejected.items():
        by_reason[reason[:500]].append(member_id)
    for reason, member_ids in by_reason.items():
        for chunk in _chunks(member_ids):
            AudienceMember.objects.filter(id__in=chunk, state=State.PENDING_ADD).update(
                state=State.REJECTED, in_flight=False, error=reason, updated_at=now
            )


def _update(ids: Sequence[int], **fields: Any) -> None:
    for chunk in _chunks(ids):
        AudienceMember.objects.filter(id__in=chunk).update(**fields)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), WRITE_CHUNK):
        yield ids[start : start + WRITE_CHUNK]


# Leases


def acquire_lease(audience_id: int) -> str | None:
    """Take the audience's lease; return its token, or None if another run holds it."""
    now = timezone.now()
    token = uuid.uuid4().hex
    acquired = (
        Audience.objects.filter(pk=audience_id)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(
            locked_until=now + app_settings.AUDIENCE_SYNC_LOCK_TIMEOUT, lock_token=token
        )
    )
    return token if acquired else None


def renew_lease(audience_id: int, token: str) -> bool:
    until = timezone.now() + app_settings.AUDIENCE_SYNC_LOCK_TIMEOUT
    return bool(
        Audience.objects.filter(pk=audience_id, lock_token=token).update(
            locked_until=until
        )
    )


def release_lease(audience_id: int, token: str) -> None:
    Audience.objects.filter(pk=audience_id, lock_token=token).update(
        locked_until=None, lock_token=""
    )


# Runs


def sync_audience(
    audience_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    *,
    removals_only: bool = False,
) -> SyncRun | None:
    """Sync one audience now and return its run, or None if another run has the lease.

    Raises Audience.DoesNotExist if there is no audience ``audience_id``.

    Platform errors are recorded on the run and the audience, never raised. The
    returned run carries ``retry_after``: seconds after which a retry may succeed,
    or None when the run succeeded or retrying cannot help.
    """
    lease = acquire_lease(audience_id)
    if lease is None:
        if not Audience.objects.filter(pk=audience_id).exists():
            raise Audience.DoesNotExist(f"No ad audience with id {audience_id}.")
        logger.info("Audience %s: a sync is already running, skipped", audience_id)
        return None
    try:
        audience = Audience.objects.select_related("segment").get(pk=audience_id)
        # A run still marked running lost its worker; its rows are resumed now.
        SyncRun.objects.filter(audience=audience, status=SyncStatus.RUNNING).update(
            status=SyncStatus.FAILED,
            error="Interrupted before it finished; the next run resumed it.",
            finished_at=timezone.now(),
        )
        run = SyncRun.objects.create(audience=audience, trigger=trigger)
        Audience.objects.filter(pk=audience_id).update(last_status=SyncStatus.RUNNING)
        run.retry_after = None
        try:
            platform = get_platform(audience.platform)
            if not removals_only:
                plan = plan_audience(audience, platform, run.started_at)
                _record_plan(run, plan)
            send_pending(audience, platform, run, lease, removals_only=removals_only)
        except AudiencePlatformError as error:
            logger.warning(
                "Audience %s: sync failed (%s): %s", audience_id, error.code, error
            )
            run.retry_after = _retry_after(error)
            finish_run(audience, run, str(error))
        except (PlatformNotConfigured, ImproperlyConfigured, LeaseLost) as error:
            logger.warning("Audience %s: sync failed: %s", audience_id, error)
            finish_run(audience, run, str(error))
        else:
            finish_run(audience, run, "")
        return run
    finally:
        release_lease(audience_id, lease)


def _record_plan(run: SyncRun, plan: Plan) -> None:
    run.segment_size = plan.segment_size
    run.eligible = plan.eligible
    run.planned_adds = plan.adds
    run.planned_removes = plan.removes
    run.save(
        update_fields=["segment_size", "eligible", "planned_adds", "planned_removes"]
    )


def _retry_after(error: AudiencePlatformError) -> float | None:
    if not error.retryable:
        return None
    if error.retry_after is not None:
        return error.retry_after
    return app_settings.AUDIENCE_RETRY_MAX_DELAY.total_seconds()


def finish_run(audience: Audience, run: SyncRun, error: str) -> None:
    """Close the run and store the audience's status, counts and next sync time."""
    now = timezone.now()
    counts = state_counts(audience)
    if error:
        status = SyncStatus.FAILED
    elif run.rejected:
        status = SyncStatus.PARTIAL
    else:
        status = SyncStatus.OK
    run.status = status
    run.error = error
    run.finished_at = now
    run.save(update_fields=["status", "error", "finished_at"])

    failures = audience.consecutive_failures + 1 if error else 0
    Audience.objects.filter(pk=audience.pk).update(
        last_sync_at=now,
        last_status=status,
        last_error=error,
        consecutive_failures=failures,
        next_sync_at=now + next_sync_delay(audience, failures, run.retry_after),
        member_count=counts.get(State.ADDED, 0),
        pending_count=counts.get(State.PENDING_ADD, 0)
        + counts.get(State.PENDING_REMOVE, 0),
        rejected_count=counts.get(State.REJECTED, 0),
    )
    logger.info(
        "Audience %s: sync %s, %d added, %d removed, %d rejected",
        audience.pk,
        status,
        run.added,
        run.removed,
        run.rejected,
    )


def next_sync_delay(
    audience: Audience, failures: int, retry_after: float | None
) -> timedelta:
    """Return the wait before the next scheduled run of ``audience``."""
    interval = audience.sync_interval or app_settings.AUDIENCE_SYNC_INTERVAL
    if not failures:
        return interval
    delay = min(interval, FAILURE_BACKOFF * 2 ** min(failures - 1, 10))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def due_audiences(now: datetime | None = None) -> list[tuple[int, bool]]:
    """Return (audience id, removals only) for each audience due for a run.

    Active audiences are due at ``next_sync_at``. Paused ones are due only while
    they hold removals, so that erasures and withdrawals still reach the platform.
    """
    now = now or timezone.now()
    due = Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    active = Audience.objects.filter(due, free, is_active=True).values_list(
        "pk", flat=True
    )
    paused = (
        Audience.objects.filter(due, free, is_active=False)
        .filter(members__state=State.PENDING_REMOVE)
        .distinct()
        .values_list("pk", flat=True)
    )
    return [(pk, False) for pk in active] + [(pk, True) for pk in paused]


def claim_due_audiences(now: datetime | None = None) -> list[tuple[int, bool]]:
    """Return the due audiences and push their next sync past the lease timeout.

    A queued run that waits behind others is then not queued a second time.
    """
    now = now or timezone.now()
    due = due_audiences(now)
    if due:
        Audience.objects.filter(pk__in=[pk for pk, _ in due]).update(
            next_sync_at=now + app_settings.AUDIENCE_SYNC_LOCK_TIMEOUT
        )
    return due


# Erasure and segment changes


def forget_profile(profile_id: int) -> list[int]:
    """Mark an erased profile for removal from every audience; return their ids.

    Only stored hashes are used, so it works after the raw identifiers are gone.
    Hashes never uploaded are deleted at once.
    """
    audience_ids: set[int] = set()
    now = timezone.now()
    with transaction.atomic():
        members = AudienceMember.objects.select_for_update().filter(
            profile_id=profile_id
        )
        for member in members:
            if drop(member):
                member.updated_at = now
                member.save(update_fields=[*PLAN_FIELDS, "updated_at"])
            if member.state == State.PENDING_REMOVE:
                audience_ids.add(member.audience_id)
    return sorted(audience_ids)


def bring_forward(segment_id: int, now: datetime | None = None) -> int:
    """Pull the next sync of the segment's active audiences forward after a change.

    The sync then runs ``AUDIENCE_SYNC_DELAY_AFTER_CHANGE`` after the first change,
    which gathers the changes of a segment recompute into one run.
    """
    delay = app_settings.AUDIENCE_SYNC_DELAY_AFTER_CHANGE
    if delay is None:
        return 0
    target = (now or timezone.now()) + delay
    return (
        # An audience without a next sync time is due already.
        Audience.objects.filter(
            segment_id=segment_id, is_active=True, next_sync_at__gt=target
        ).update(next_sync_at=target)
    )
