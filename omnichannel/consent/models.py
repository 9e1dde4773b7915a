"""The consent ledger: every grant and withdrawal, with its proof."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Profile


class Channel(models.TextChoices):
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")
    PUSH = "push", _("mobile push")
    WEB_PUSH = "webpush", _("web push")
    WHATSAPP = "whatsapp", _("WhatsApp")
    ADS = "ads", _("advertising audiences")
    TRACKING = "tracking", _("open and click tracking")


class Purpose(models.TextChoices):
    MARKETING = "marketing", _("marketing")
    TRANSACTIONAL = "transactional", _("service messages")
    PROFILING = "profiling", _("profiling and personalisation")


class ConsentRecord(models.Model):
    """One change of consent; the current state is the latest row per channel and
    purpose. Rows are never updated or deleted, erasure included."""

    profile = models.ForeignKey(
        Profile, on_delete=models.PROTECT, related_name="consent_records"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    purpose = models.CharField(
        max_length=16, choices=Purpose.choices, default=Purpose.MARKETING
    )
    granted = models.BooleanField()
    recorded_at = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    wording_version = models.CharField(max_length=64, blank=True)
    proof = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["profile", "channel", "purpose", "recorded_at"],
                name="omni_consent_state",
            )
        ]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrew"
        return f"{self.profile_id} {verb} {self.channel}/{self.purpose}"


class Suppression(models.Model):
    """An address that must not be sent to on a channel (bounce, complaint, STOP)."""

    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(max_length=255)
    reason = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "address"], name="omnichannel_suppression_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.reason})"
