"""The consent ledger with its proof, suppressions, topics and data-subject requests."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.exceptions import LedgerError
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


# Channels whose address is a phone number in E.164 form.
PHONE_CHANNELS = (Channel.SMS, Channel.WHATSAPP)


class ConsentRecordQuerySet(models.QuerySet):
    """Refuses bulk deletes and bulk updates other than the two the app needs."""

    # A merge moves rows to the survivor; an erasure replaces the address by its
    # digest. Nothing else may change a recorded row.
    UPDATABLE = frozenset({"profile", "profile_id", "address"})

    def delete(self) -> Any:
        raise LedgerError("Consent records are never deleted, erasure included.")

    def update(self, **kwargs: Any) -> int:
        changed = set(kwargs) - self.UPDATABLE
        if changed:
            raise LedgerError(
                f"Consent records are append-only; {sorted(changed)} cannot change. "
                "Record a new grant or withdrawal instead."
            )
        return super().update(**kwargs)


class ConsentRecord(models.Model):
    """One change of consent; the current state is the latest row per channel,
    purpose and topic. Rows are never updated or deleted, erasure included."""

    profile = models.ForeignKey(
        Profile, on_delete=models.PROTECT, related_name="consent_records"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    purpose = models.CharField(
        max_length=16, choices=Purpose.choices, default=Purpose.MARKETING
    )
    topic = models.SlugField(
        max_length=64,
        blank=True,
        help_text=_("Empty for the whole purpose; a topic slug narrows it."),
    )
    granted = models.BooleanField()
    recorded_at = models.DateTimeField(default=timezone.now, db_index=True)
    address = models.CharField(
        max_length=255,
        blank=True,
        help_text=_(
            "Email address or phone number the consent was given for; after an "
            "erasure, its SHA-256 digest."
        ),
    )
    source = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    wording_version = models.CharField(max_length=64, blank=True)
    proof = models.JSONField(default=dict, blank=True)

    objects = ConsentRecordQuerySet.as_manager()
    # Erasure keeps the row as proof; it replaces only the address by its digest.
    gdpr_keep = True

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
        topic = f"/{self.topic}" if self.topic else ""
        return f"{self.profile_id} {verb} {self.channel}/{self.purpose}{topic}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerError(
                "Consent records are append-only; record a new grant or withdrawal."
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise LedgerError("Consent records are never deleted, erasure included.")


class ConsentWording(models.Model):
    """The text shown when consent was asked, kept so the proof shows what was read.

    A wording is never edited: change the text by adding a new version.
    """

    version = models.SlugField(_("version"), max_length=64, unique=True)
    channel = models.CharField(
        _("channel"), max_length=16, choices=Channel.choices, blank=True
    )
    purpose = models.CharField(
        _("purpose"), max_length=16, choices=Purpose.choices, blank=True
    )
    language = models.CharField(_("language"), max_length=16, blank=True)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("consent wording")
        verbose_name_plural = _("consent wordings")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.version

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            stored = type(self).objects.filter(pk=self.pk).values("text").first()
            if stored is not None and stored["text"] != self.text:
                raise LedgerError(
                    f"Wording {self.version!r} was shown to customers and cannot "
                    "change; add a new version."
                )
        super().save(*args, **kwargs)


class Topic(models.Model):
    """A kind of marketing message customers can choose in the preference centre.

    Customers with marketing consent receive every active topic until they opt out
    of it.
    """

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Suppression(models.Model):
    """An address that must not be sent to on a channel (bounce, complaint, STOP)."""

    class Reason(models.TextChoices):
        BOUNCE = "bounce", _("hard bounce")
        COMPLAINT = "complaint", _("spam complaint")
        SMS_STOP = "sms_stop", _("STOP keyword")
        REJECTED = "rejected", _("rejected by the provider")
        MANUAL = "manual", _("added by staff")

    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(max_length=255)
    reason = models.CharField(max_length=64, choices=Reason.choices)
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


class OptInRequest(models.Model):
    """A double opt-in: the request, the confirmation link sent, and the click.

    Kept as part of the proof, so it is neither deleted nor erased.
    """

    gdpr_keep = True

    profile = models.ForeignKey(
        Profile, on_delete=models.PROTECT, related_name="opt_in_requests"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    purpose = models.CharField(
        max_length=16, choices=Purpose.choices, default=Purpose.MARKETING
    )
    topic = models.SlugField(max_length=64, blank=True)
    wording_version = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirm_ip_address = models.GenericIPAddressField(null=True, blank=True)
    confirm_user_agent = models.CharField(max_length=500, blank=True)
    consent_record = models.OneToOneField(
        ConsentRecord,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opt_in_request",
    )

    class Meta:
        verbose_name = _("double opt-in request")
        verbose_name_plural = _("double opt-in requests")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "pending"
        return f"{self.profile_id} {self.channel}/{self.purpose} ({state})"


class DataSubjectRequest(models.Model):
    """A record of one export or erasure done for a customer, for the legal team."""

    gdpr_keep = True

    class Kind(models.TextChoices):
        EXPORT = "export", _("export")
        ERASURE = "erasure", _("erasure")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    profile = models.ForeignKey(
        Profile, on_delete=models.PROTECT, related_name="data_subject_requests"
    )
    requested_by = models.CharField(max_length=150, blank=True)
    via = models.CharField(
        max_length=16, help_text=_("admin, api or command"), blank=True
    )
    completed_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("data subject request")
        verbose_name_plural = _("data subject requests")
        ordering = ["-completed_at"]

    def __str__(self) -> str:
        return f"{self.kind} of profile {self.profile_id}"
