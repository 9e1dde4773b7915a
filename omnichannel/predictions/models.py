"""Scores computed from a profile's history."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Profile


class RFMGroup(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", _("Potential loyalists")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class RFMScore(models.Model):
    """Recency, frequency and monetary quintile scores (1 to 5) and the named group."""

    profile = models.OneToOneField(
        Profile, on_delete=models.CASCADE, primary_key=True, related_name="rfm"
    )
    recency_score = models.PositiveSmallIntegerField(_("R"))
    frequency_score = models.PositiveSmallIntegerField(_("F"))
    monetary_score = models.PositiveSmallIntegerField(_("M"))
    group = models.CharField(
        _("group"), max_length=32, choices=RFMGroup.choices, db_index=True
    )
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")

    def __str__(self) -> str:
        return f"{self.code} {self.get_group_display()}"

    @property
    def code(self) -> str:
        return f"{self.recency_score}{self.frequency_score}{self.monetary_score}"


class ModelKind(models.TextChoices):
    BGNBD = "bgnbd", _("BG/NBD purchases")
    GAMMA_GAMMA = "gamma_gamma", _("Gamma-Gamma spend")


class PredictionModel(models.Model):
    """One fit of a purchase or spend model, kept whether or not it converged.

    Scoring uses the active model of each kind. A fit that does not converge is
    stored with ``converged=False`` and its message, and the previous active model
    stays active.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=ModelKind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    fitted_at = models.DateTimeField(_("fitted at"), default=timezone.now)
    calibration_end = models.DateField(
        _("calibration end"),
        help_text=_("Orders up to and including this date were used."),
    )
    n_customers = models.PositiveIntegerField(_("customers"), default=0)
    n_repeat_customers = models.PositiveIntegerField(_("repeat customers"), default=0)
    log_likelihood = models.FloatField(_("log-likelihood"), null=True, blank=True)
    converged = models.BooleanField(_("converged"), default=False)
    is_active = models.BooleanField(_("active"), default=False)
    message = models.TextField(_("message"), blank=True)
    duration_seconds = models.FloatField(_("fit time (s)"), default=0.0)

    class Meta:
        verbose_name = _("prediction model")
        verbose_name_plural = _("prediction models")
        ordering = ["-fitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(is_active=True),
                name="omnichannel_one_active_model_per_kind",
            )
        ]

    def __str__(self) -> str:
        state = "active" if self.is_active else "inactive"
        return f"{self.get_kind_display()} {self.fitted_at:%Y-%m-%d %H:%M} ({state})"


class LifecycleStage(models.TextChoices):
    ACTIVE = "active", _("Active")
    AT_RISK = "at_risk", _("At risk")
    CHURNING = "churning", _("Churning")
    ONE_TIME = "one_time", _("One-time buyer")


class CustomerPrediction(models.Model):
    """Forward-looking scores of one profile, rewritten by each scoring run.

    Purchase fields are empty for profiles without an order or while no purchase
    model is active; send-time and channel fields are empty without engagement
    events.
    """

    profile = models.OneToOneField(
        Profile, on_delete=models.CASCADE, primary_key=True, related_name="prediction"
    )
    probability_alive = models.FloatField(
        _("probability active"), null=True, blank=True
    )
    churn_risk = models.FloatField(
        _("churn risk"),
        null=True,
        blank=True,
        db_index=True,
        help_text=_("1 - probability active."),
    )
    expected_purchases_30d = models.FloatField(
        _("expected purchases, next 30 days"), null=True, blank=True
    )
    expected_purchases_90d = models.FloatField(
        _("expected purchases, next 90 days"), null=True, blank=True
    )
    probability_purchase_30d = models.FloatField(
        _("probability of a purchase, next 30 days"), null=True, blank=True
    )
    clv_12m = models.DecimalField(
        _("12-month CLV"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Discounted expected spend over the next 12 months."),
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=16,
        choices=LifecycleStage.choices,
        blank=True,
        db_index=True,
    )
    best_send_hour_of_week = models.PositiveSmallIntegerField(
        _("best send hour of the week"),
        null=True,
        blank=True,
        help_text=_("0 is Monday 00:00-00:59 in the profile's time zone."),
    )
    best_send_hour_of_day = models.PositiveSmallIntegerField(
        _("best send hour of the day"), null=True, blank=True
    )
    send_time_events = models.PositiveIntegerField(
        _("opens and clicks used for send time"), default=0
    )
    channel_affinity = models.JSONField(
        _("channel affinity"),
        default=dict,
        blank=True,
        help_text=_(
            "Channel -> estimated share of messages the customer engages with."
        ),
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=16, blank=True
    )
    scored_at = models.DateTimeField(_("scored at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer prediction")
        verbose_name_plural = _("customer predictions")

    def __str__(self) -> str:
        return f"Prediction for profile {self.profile_id}"

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Delete the scores; they are derived and would be recomputed."""
        return cls.objects.filter(profile=profile).delete()[0]


class PredictionValidation(models.Model):
    """A holdout test: fit on a calibration period, compare with what happened next."""

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    calibration_end = models.DateField(_("calibration end"))
    holdout_end = models.DateField(_("holdout end"))
    source = models.CharField(
        _("source"),
        max_length=255,
        help_text=_("Where the orders came from: the database or a file name."),
    )
    n_customers = models.PositiveIntegerField(_("customers"))
    params = models.JSONField(_("parameters"), default=dict)
    converged = models.BooleanField(_("converged"), default=False)
    predicted_purchases = models.FloatField(_("predicted holdout purchases"))
    actual_purchases = models.FloatField(_("actual holdout purchases"))
    mean_absolute_error = models.FloatField(
        _("mean absolute error per customer"),
    )
    table = models.JSONField(
        _("by calibration frequency"),
        default=list,
        help_text=_("Rows of frequency, customers, mean actual, mean predicted."),
    )
    plot_png = models.BinaryField(_("plot (PNG)"), editable=False)

    class Meta:
        verbose_name = _("prediction validation")
        verbose_name_plural = _("prediction validations")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Validation {self.calibration_end} -> {self.holdout_end}"
