"""Journeys: versioned step graphs, and enrollments that walk them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Profile


class TriggerType(models.TextChoices):
    EVENT = "event", _("an event")
    SEGMENT_ENTERED = "segment_entered", _("entering a segment")
    SEGMENT_EXITED = "segment_exited", _("leaving a segment")
    DATE = "date", _("a date on the profile")
    CHURN_RISK = "churn_risk", _("churn risk crossing a threshold")
    MANUAL = "manual", _("a call from code or the API")


class ReentryPolicy(models.TextChoices):
    NEVER = "never", _("never")
    AFTER_DAYS = "after_days", _("after a number of days")
    ALWAYS = "always", _("always")


class Journey(models.Model):
    """A marketing workflow; edits go to ``draft_graph`` until published."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        ARCHIVED = "archived", _("archived")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    trigger_type = models.CharField(
        _("trigger"), max_length=32, choices=TriggerType.choices
    )
    trigger_config = models.JSONField(
        _("trigger settings"),
        default=dict,
        blank=True,
        help_text=_(
            'For an event: {"event": "cart_updated", "condition": {...}}; for a '
            'segment: {"segment": "champions"}; for a date: {"field": "birthday", '
            '"time": "10:00"}; for churn risk: {"threshold": 0.7}.'
        ),
    )
    keyed_by_object = models.BooleanField(
        _("one run per object"),
        default=False,
        help_text=_(
            "Each run belongs to the object of the triggering event (a cart, say), "
            "and a repeat of the trigger on that object restarts its timers."
        ),
    )
    goal = models.JSONField(
        _("goal"),
        default=dict,
        blank=True,
        help_text=_(
            'Events that end a run as converted, e.g. {"events": ["order_placed", '
            '"cart_converted"], "same_object": false}.'
        ),
    )
    reentry_policy = models.CharField(
        _("re-entry"),
        max_length=16,
        choices=ReentryPolicy.choices,
        default=ReentryPolicy.NEVER,
    )
    reentry_days = models.PositiveIntegerField(_("re-entry after days"), default=0)
    draft_graph = models.JSONField(_("steps (draft)"), default=dict, blank=True)
    current_version = models.ForeignKey(
        "JourneyVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JourneyVersion(models.Model):
    """A published, frozen step graph; enrollments finish on the version they began."""

    journey = models.ForeignKey(
        Journey, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("journey version")
        verbose_name_plural = _("journey versions")
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "number"], name="omnichannel_journey_version_unique"
            )
        ]
        ordering = ["journey", "-number"]

    def __str__(self) -> str:
        return f"{self.journey} v{self.number}"


class Enrollment(models.Model):
    """One customer's run through one journey version."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("in progress")
        COMPLETED = "completed", _("completed")
        CONVERTED = "converted", _("converted")
        EXITED = "exited", _("exited")
        FAILED = "failed", _("failed")

    journey = models.ForeignKey(
        Journey, on_delete=models.CASCADE, related_name="enrollments"
    )
    version = models.ForeignKey(
        JourneyVersion, on_delete=models.PROTECT, related_name="enrollments"
    )
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="journey_enrollments"
    )
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    current_step = models.CharField(max_length=64, blank=True)
    step_entered_at = models.DateTimeField(default=timezone.now)
    next_run_at = models.DateTimeField(null=True, blank=True)
    entered_at = models.DateTimeField(default=timezone.now)
    last_trigger_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=64, blank=True)
    context = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        help_text=_(
            "The key of the API call or code that started the run; the same key "
            "returns this run instead of starting another."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "profile", "object_type", "object_id"],
                condition=Q(status="active"),
                name="omnichannel_one_active_enrollment",
            ),
            models.UniqueConstraint(
                fields=["journey", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="omnichannel_enrollment_idempotency",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_run_at"], name="omni_enrollment_due"),
            models.Index(fields=["profile", "status"], name="omni_enrollment_profile"),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.journey_id} ({self.status})"

    @classmethod
    def merge_profiles(cls, survivor: Profile, loser: Profile) -> list[int]:
        """Move the loser's runs; a run that duplicates an active run of the
        survivor in the same journey and object is ended as merged."""
        survivor_keys = set(
            cls.objects.filter(profile=survivor, status=cls.Status.ACTIVE).values_list(
                "journey_id", "object_type", "object_id"
            )
        )
        for enrollment in cls.objects.filter(profile=loser, status=cls.Status.ACTIVE):
            key = (enrollment.journey_id, enrollment.object_type, enrollment.object_id)
            if key in survivor_keys:
                enrollment.status = cls.Status.EXITED
                enrollment.exit_reason = "profile_merged"
                enrollment.ended_at = timezone.now()
                enrollment.next_run_at = None
                enrollment.save(
                    update_fields=["status", "exit_reason", "ended_at", "next_run_at"]
                )
        moved = list(cls.objects.filter(profile=loser).values_list("pk", flat=True))
        cls.objects.filter(pk__in=moved).update(profile=survivor)
        return moved

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Blank the run context (it may copy cart contents); keep the path taken."""
        return cls.objects.filter(profile=profile).update(context={})


class StepRun(models.Model):
    """What happened at one step of one enrollment, for the inspector and counts."""

    class Outcome(models.TextChoices):
        ENTERED = "entered", _("entered")
        WAITING = "waiting", _("waiting")
        DONE = "done", _("done")
        SENT = "sent", _("message queued")
        SKIPPED = "skipped", _("message not sent")
        DEFERRED = "deferred", _("deferred")
        EXITED = "exited", _("exited")

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="step_runs"
    )
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    step_key = models.CharField(max_length=64)
    step_type = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("step run")
        verbose_name_plural = _("step runs")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["journey", "step_key"], name="omni_steprun_step"),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id}:{self.step_key} {self.outcome}"
