"""Experiments: A/B tests on messages, journey steps and placements."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Profile


class Experiment(models.Model):
    """A test of two or more variants of one message, step or placement."""

    class Target(models.TextChoices):
        MESSAGE = "message", _("message")
        JOURNEY_STEP = "journey_step", _("journey step")
        PLACEMENT = "placement", _("placement")

    class Metric(models.TextChoices):
        CONVERSION_RATE = "conversion_rate", _("conversion rate")
        REVENUE_PER_RECIPIENT = "revenue_per_recipient", _("revenue per recipient")
        CLICK_RATE = "click_rate", _("click-through rate")
        OPEN_RATE = "open_rate", _("open rate")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        RUNNING = "running", _("running")
        PAUSED = "paused", _("paused")
        COMPLETED = "completed", _("completed")

    key = models.SlugField(
        _("key"),
        max_length=100,
        unique=True,
        help_text=_(
            "Stable identifier, hashed with each profile's UUID to pick its variant. "
            "Changing it reshuffles everyone not yet assigned."
        ),
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    target = models.CharField(
        _("target"), max_length=16, choices=Target.choices, default=Target.MESSAGE
    )
    target_ref = models.CharField(
        _("target reference"),
        max_length=200,
        blank=True,
        help_text=_(
            "What is tested: a message template key, 'journey-key/step-key' or a "
            "placement key."
        ),
    )
    metric = models.CharField(
        _("primary metric"),
        max_length=32,
        choices=Metric.choices,
        default=Metric.CONVERSION_RATE,
        help_text=_("The metric that decides the winner."),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    holdout_share = models.DecimalField(
        _("holdout share"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.9"))],
        help_text=_(
            "Fraction of profiles, from 0 to 0.9, that get nothing at all; they "
            "measure what the message or placement adds."
        ),
    )
    conversion_window = models.DurationField(
        _("conversion window"),
        default=timedelta(days=7),
        help_text=_("Orders this long after assignment count for the variant."),
    )
    significance_level = models.DecimalField(
        _("significance level"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.05"),
        validators=[
            MinValueValidator(Decimal("0.001")),
            MaxValueValidator(Decimal("0.2")),
        ],
        help_text=_("Alpha of the tests, from 0.001 to 0.2; 0.05 is usual."),
    )
    minimum_detectable_lift = models.DecimalField(
        _("minimum detectable lift"),
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.10"),
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text=_(
            "Relative lift over control worth detecting (0.10 = 10%); sets the "
            "sample size shown on the results page."
        ),
    )
    minimum_sample_size = models.PositiveIntegerField(
        _("minimum sample per variant"),
        default=1000,
        help_text=_("No winner is promoted before every variant has this many."),
    )
    auto_promote = models.BooleanField(
        _("promote the winner automatically"),
        default=False,
        help_text=_(
            "Complete the experiment and send the winning variant to everyone once "
            "the primary metric differs significantly."
        ),
    )
    winner = models.ForeignKey(
        "Variant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("winner"),
    )
    promoted_at = models.DateTimeField(_("promoted at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("experiment")
        verbose_name_plural = _("experiments")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_share__gte=0)
                & Q(holdout_share__lte=Decimal("0.9")),
                name="omnichannel_experiment_holdout_range",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.key

    @property
    def control(self) -> Variant | None:
        return self.variants.filter(is_control=True).first()

    def clean(self) -> None:
        if self.winner_id is not None and self.winner.experiment_id != self.pk:
            raise ValidationError(
                {"winner": _("The winner must be a variant of this experiment.")}
            )
        if self.conversion_window is not None and self.conversion_window <= timedelta():
            raise ValidationError(
                {"conversion_window": _("The conversion window must be positive.")}
            )


class Variant(models.Model):
    """One arm of an experiment. ``payload`` contains what differs (subject...)."""

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="variants"
    )
    key = models.SlugField(_("key"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)
    is_control = models.BooleanField(_("control"), default=False)
    weight = models.PositiveIntegerField(
        _("weight"),
        default=1,
        help_text=_(
            "Relative share of the non-holdout traffic. 0 stops new assignments to "
            "this variant; people already in it stay."
        ),
    )
    payload = models.JSONField(
        _("payload"),
        default=dict,
        blank=True,
        help_text=_(
            'What this variant changes, for example {"subject": "...", '
            '"template": "cart-2", "channel": "sms", "offer": "FREESHIP", '
            '"send_hour": 18}.'
        ),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["experiment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "key"], name="omnichannel_variant_unique_key"
            ),
            models.UniqueConstraint(
                fields=["experiment"],
                condition=Q(is_control=True),
                name="omnichannel_variant_one_control",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.key

    def clean(self) -> None:
        if not isinstance(self.payload, dict):
            raise ValidationError(
                {"payload": _("The payload must be a JSON object such as {}.")}
            )


class Assignment(models.Model):
    """The arm one profile is in; ``variant`` is empty for the holdout group.

    The row is written on the first assignment and read from then on, so changing
    weights later moves nobody who was already assigned.
    """

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="assignments"
    )
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="experiment_assignments"
    )
    variant = models.ForeignKey(
        Variant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "profile"],
                name="omnichannel_assignment_unique",
            )
        ]
        indexes = [
            models.Index(fields=["experiment", "variant"], name="omni_assignment_arm"),
        ]

    def __str__(self) -> str:
        arm = self.variant.key if self.variant_id else "holdout"
        return f"{self.profile_id} -> {arm}"

    @property
    def is_holdout(self) -> bool:
        return self.variant_id is None

    @classmethod
    def merge_profiles(cls, survivor: Profile, loser: Profile) -> list[int]:
        """Move the loser's assignments; where both were assigned in one experiment
        the survivor's arm is kept and the loser's row is deleted."""
        taken = cls.objects.filter(profile=survivor).values_list(
            "experiment_id", flat=True
        )
        cls.objects.filter(profile=loser, experiment_id__in=list(taken)).delete()
        moved = list(cls.objects.filter(profile=loser).values_list("pk", flat=True))
        cls.objects.filter(pk__in=moved).update(profile=survivor)
        return moved
