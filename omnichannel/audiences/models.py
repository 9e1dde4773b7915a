"""Ad platform audiences kept in step with segments, with per-member sync state."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.conf import app_settings
from omnichannel.profiles.models import Profile
from omnichannel.segments.models import Segment

__all__ = ["Audience", "AudienceMember", "MemberState", "SyncRun", "SyncStatus"]


def default_sync_interval() -> timedelta:
    return app_settings.AUDIENCE_SYNC_INTERVAL


class SyncStatus(models.TextChoices):
    NEVER = "never", _("never synced")
    RUNNING = "running", _("running")
    OK = "ok", _("in sync")
    PARTIAL = "partial", _("in sync, some rows rejected")
    FAILED = "failed", _("failed")


class Audience(models.Model):
    """A segment mirrored into one list on one ad platform."""

    class Kind(models.TextChoices):
        TARGET = "target", _("audience to target")
        EXCLUSION = "exclusion", _("exclusion list")

    name = models.CharField(_("name"), max_length=200)
    segment = models.ForeignKey(
        Segment,
        on_delete=models.PROTECT,
        related_name="ad_audiences",
        verbose_name=_("segment"),
    )
    platform = models.CharField(
        _("platform"),
        max_length=64,
        help_text=_("Key of the platform in OMNICHANNEL['AUDIENCE_PLATFORMS']."),
    )
    kind = models.CharField(
        _("use"),
        max_length=16,
        choices=Kind.choices,
        default=Kind.TARGET,
        help_text=_(
            "How campaigns use the list: to show ads to its members, or to keep ads "
            "away from them. The upload is the same either way."
        ),
    )
    external_id = models.CharField(
        _("platform audience id"),
        max_length=64,
        help_text=_("The Meta Custom Audience id or the Google user list id."),
    )
    account_id = models.CharField(
        _("ad account id"),
        max_length=64,
        blank=True,
        help_text=_("The Google Ads customer id that owns the list; unused for Meta."),
    )
    is_active = models.BooleanField(
        _("sync on schedule"),
        default=True,
        help_text=_("Erasure requests are sent to the platform even when this is off."),
    )
    sync_interval = models.DurationField(
        _("sync interval"), default=default_sync_interval
    )
    created_at = models.DateTimeField(default=timezone.now)

    # State of the last run, kept here for the admin's list.
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_status = models.CharField(
        _("status"), max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER
    )
    last_error = models.TextField(_("last error"), blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    pending_count = models.PositiveIntegerField(_("pending"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected rows"), default=0)

    # Lease held by the run in progress, so that two workers never sync one audience.
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    lock_token = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        verbose_name = _("ad audience")
        verbose_name_plural = _("ad audiences")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "account_id", "external_id"],
                name="omnichannel_audience_unique_list",
            )
        ]
        indexes = [
            models.Index(fields=["is_active", "next_sync_at"], name="omni_audience_due")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from omnichannel.audiences.platforms import get_platform
        from omnichannel.exceptions import PlatformNotConfigured

        self.external_id = (self.external_id or "").strip()
        self.account_id = (self.account_id or "").strip()
        try:
            platform = get_platform(self.platform)
        except PlatformNotConfigured as error:
            raise ValidationError({"platform": str(error)}) from None
        errors = platform.validate_audience(self)
        if errors:
            raise ValidationError(errors)
        if self.sync_interval is not None and self.sync_interval < timedelta(minutes=5):
            raise ValidationError(
                {"sync_interval": _("Sync at most every 5 minutes (00:05:00).")}
            )


class MemberState(models.TextChoices):
    PENDING_ADD = "pending_add", _("to add")
    ADDED = "added", _("added")
    PENDING_REMOVE = "pending_remove", _("to remove")
    REMOVED = "removed", _("removed")
    REJECTED = "rejected", _("rejected by the platform")


class AudienceMember(models.Model):
    """One profile's place in one platform audience, with the hashes uploaded.

    ``uploaded`` contains the hashed identifiers the platform has, so that a removal
    works after erasure has wiped the raw ones. ``pending`` contains those still to
    upload. A row is ``in_flight`` while a request carrying it has no response yet. If
    the process dies then, the next run treats the row as possibly uploaded.
    """

    # Only hashes are stored, and erasure needs them to remove the person from
    # the platforms (see omnichannel.audiences.receivers).
    gdpr_keep = True

    audience = models.ForeignKey(
        Audience, on_delete=models.CASCADE, related_name="members"
    )
    profile = models.ForeignKey(
        Profile,
        null=True,
        on_delete=models.SET_NULL,
        related_name="audience_memberships",
    )
    state = models.CharField(
        max_length=16, choices=MemberState.choices, default=MemberState.PENDING_ADD
    )
    pending = models.JSONField(null=True, blank=True)
    uploaded = models.JSONField(null=True, blank=True)
    in_flight = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    added_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ad audience member")
        verbose_name_plural = _("ad audience members")
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "profile"],
                condition=Q(profile__isnull=False),
                name="omnichannel_audience_member_unique",
            )
        ]
        indexes = [
            models.Index(fields=["audience", "state", "id"], name="omni_audience_state")
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.audience_id} ({self.state})"

    @classmethod
    def merge_profiles(cls, survivor: Profile, loser: Profile) -> list[int]:
        """Move the loser's rows to audiences where the survivor has none; the rows
        left behind are removed from the platform by the next sync."""
        taken = cls.objects.filter(profile=survivor).values_list(
            "audience_id", flat=True
        )
        moved = list(
            cls.objects.filter(profile=loser)
            .exclude(audience_id__in=list(taken))
            .values_list("pk", flat=True)
        )
        cls.objects.filter(pk__in=moved).update(profile=survivor)
        return moved


class SyncRun(models.Model):
    """One sync of one audience: what it planned, what the platform took, what failed.

    Counts are of member rows; ``requests`` counts the HTTP requests that succeeded.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("schedule")
        ADMIN = "admin", _("admin")
        ERASURE = "erasure", _("erasure")
        COMMAND = "command", _("management command")

    audience = models.ForeignKey(
        Audience, on_delete=models.CASCADE, related_name="runs"
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(
        max_length=16, choices=SyncStatus.choices, default=SyncStatus.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    segment_size = models.PositiveIntegerField(_("in segment"), default=0)
    eligible = models.PositiveIntegerField(
        _("eligible"),
        default=0,
        help_text=_("Members of the segment with ads consent and a usable identifier."),
    )
    planned_adds = models.PositiveIntegerField(default=0)
    planned_removes = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    request_ids = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    #: Seconds after which a failed run may succeed if retried; set by the sync
    #: service on the returned run and not stored.
    retry_after: float | None = None

    class Meta:
        verbose_name = _("ad audience sync")
        verbose_name_plural = _("ad audience syncs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.audience_id} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
