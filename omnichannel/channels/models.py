"""Message templates, the outbox (Delivery) and what channels keep per recipient."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.consent.models import Purpose
from omnichannel.profiles.models import Profile


class MessageChannel(models.TextChoices):
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")
    PUSH = "push", _("mobile push")
    WEB_PUSH = "webpush", _("web push")
    WHATSAPP = "whatsapp", _("WhatsApp")
    WEBHOOK = "webhook", _("webhook")
    ONSITE = "onsite", _("on-site message")


class SMSOverflow(models.TextChoices):
    TRANSLITERATE = "transliterate", _("replace characters outside GSM-7, then hold")
    HOLD = "hold", _("hold for review")


# Template fields written in the Django template language.
TEMPLATE_FIELDS = ("subject", "preheader", "body", "text_body", "url")


class MessageTemplate(models.Model):
    """The content of one message, written in the Django template language."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    channel = models.CharField(
        _("channel"), max_length=16, choices=MessageChannel.choices
    )
    purpose = models.CharField(
        _("purpose"),
        max_length=16,
        choices=Purpose.choices,
        default=Purpose.MARKETING,
        help_text=_(
            "Marketing messages need the recipient's consent for the channel; "
            "service messages only respect the suppression list."
        ),
    )
    subject = models.CharField(
        _("subject or title"),
        max_length=300,
        blank=True,
        help_text=_("Email subject, push or on-site title."),
    )
    preheader = models.CharField(
        _("preheader"),
        max_length=300,
        blank=True,
        help_text=_("Email only: preview text shown after the subject in inboxes."),
    )
    body = models.TextField(
        _("body"),
        help_text=_(
            "HTML for email and on-site messages, plain text for the others. "
            "WhatsApp: one template parameter per line."
        ),
    )
    text_body = models.TextField(
        _("text body"),
        blank=True,
        help_text=_("Email only: the plain-text part; empty derives it from the HTML."),
    )
    css = models.TextField(
        _("CSS"), blank=True, help_text=_("Email only: inlined into the HTML.")
    )
    url = models.CharField(
        _("link"),
        max_length=500,
        blank=True,
        help_text=_("Push, web push and on-site: where a tap or click leads."),
    )
    sms_max_segments = models.PositiveSmallIntegerField(
        _("maximum SMS segments"),
        default=0,
        help_text=_("0 means no limit."),
    )
    sms_overflow = models.CharField(
        _("when an SMS is too long"),
        max_length=16,
        choices=SMSOverflow.choices,
        default=SMSOverflow.TRANSLITERATE,
    )
    whatsapp_template = models.CharField(
        _("WhatsApp template name"), max_length=512, blank=True
    )
    whatsapp_language = models.CharField(
        _("WhatsApp template language"), max_length=16, blank=True, default="en"
    )
    utm_campaign = models.CharField(
        _("UTM campaign"),
        max_length=100,
        blank=True,
        help_text=_("Empty uses the slug."),
    )
    recommendation_count = models.PositiveSmallIntegerField(
        _("recommendations"),
        default=4,
        help_text=_("Products offered to each recipient as 'recommendations'."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Saving from code is checked as strictly as the admin form: a template
        # that cannot compile would otherwise fail only at send time.
        self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from omnichannel.channels.rendering import template_errors

        errors = template_errors(self)
        if self.channel == MessageChannel.WHATSAPP and not self.whatsapp_template:
            errors.setdefault("whatsapp_template", []).append(
                _("WhatsApp sends only approved templates: enter the template name.")
            )
        if self.channel == MessageChannel.EMAIL and not self.subject.strip():
            errors.setdefault("subject", []).append(_("An email needs a subject."))
        if errors:
            raise ValidationError(errors)


class Delivery(models.Model):
    """One message to one profile on one channel: the outbox row.

    ``dedupe_key`` is unique, so a retried journey step or a second worker finds
    the existing row instead of sending again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SUPPRESSED = "suppressed", _("suppressed")
        DEFERRED = "deferred", _("deferred")
        CANCELLED = "cancelled", _("cancelled")
        HELD = "held", _("held for review")

    FINAL_STATUSES = (
        Status.SENT,
        Status.FAILED,
        Status.SUPPRESSED,
        Status.CANCELLED,
        Status.HELD,
    )

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=MessageChannel.choices)
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="deliveries"
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    step_key = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(
        max_length=32,
        blank=True,
        help_text=_("Machine code of the outcome, such as no_consent or quiet_hours."),
    )
    error = models.CharField(max_length=500, blank=True)
    context = models.JSONField(default=dict, blank=True)

    address = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    sms_encoding = models.CharField(max_length=8, blank=True)
    sms_segments = models.PositiveSmallIntegerField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"], name="omni_delivery_due"
            ),
            models.Index(
                fields=["profile", "channel", "sent_at"], name="omni_delivery_sent"
            ),
            models.Index(fields=["source_type", "source_id"], name="omni_delivery_src"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.profile_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Blank the address and the copies of rendered messages; keep the outcome."""
        return cls.objects.filter(profile=profile).update(
            address="", subject="", body_text="", body_html="", context={}
        )


class WebPushSubscription(models.Model):
    """A browser's push subscription (the PushSubscription of the Push API)."""

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="webpush_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("web push subscription")
        verbose_name_plural = _("web push subscriptions")

    def __str__(self) -> str:
        return f"web push of {self.profile_id}"

    def as_subscription_info(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Delete the browser subscriptions: they hold the endpoint and keys."""
        return cls.objects.filter(profile=profile).delete()[0]


class OnsiteMessage(models.Model):
    """A message waiting for the profile's next visit to the shop."""

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="onsite_messages"
    )
    delivery = models.OneToOneField(
        Delivery,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="onsite_message",
    )
    title = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    shown_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("on-site message")
        verbose_name_plural = _("on-site messages")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["profile", "dismissed_at"], name="omni_onsite_pending"
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"on-site message {self.pk}"

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Delete the messages waiting for the next page view."""
        return cls.objects.filter(profile=profile).delete()[0]


class ShortLink(models.Model):
    """A short redirect used in SMS; the target is stored, never taken from the URL."""

    code = models.CharField(max_length=16, unique=True)
    url = models.URLField(max_length=2000)
    delivery = models.ForeignKey(
        Delivery,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="short_links",
        help_text=_("Set only when the recipient consented to click tracking."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("short link")
        verbose_name_plural = _("short links")

    def __str__(self) -> str:
        return self.code
