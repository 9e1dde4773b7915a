"""The unified customer: Profile, its Identities, and the append-only Event log."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.conf import app_settings


class Profile(models.Model):
    """One customer across every channel, with denormalised order aggregates."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Primary contact points, copies of the matching Identity rows.
    email = models.EmailField(_("email"), blank=True, default="")
    phone = models.CharField(_("phone"), max_length=20, blank=True, default="")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="omnichannel_profile",
    )

    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        help_text=_("IANA name such as Europe/Berlin; empty means the shop's zone."),
    )
    country = models.CharField(_("country"), max_length=2, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)

    # Order aggregates, updated in the same transaction as each order event.
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    total_spent = models.DecimalField(
        _("total spent"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    average_order_value = models.DecimalField(
        _("average order value"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_profiles",
        help_text=_("Set on a profile that was merged into another one."),
    )
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=~Q(email=""),
                name="omnichannel_profile_unique_email",
            ),
            models.UniqueConstraint(
                fields=["phone"],
                condition=~Q(phone=""),
                name="omnichannel_profile_unique_phone",
            ),
        ]
        indexes = [
            models.Index(fields=["last_order_at"], name="omni_profile_last_order"),
            models.Index(fields=["total_spent"], name="omni_profile_total_spent"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.phone or f"Profile {self.pk}"

    @property
    def is_anonymous(self) -> bool:
        return not (self.email or self.phone or self.user_id)


class Identity(models.Model):
    """One identifier of a profile; each (kind, value) belongs to one profile only."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("email")
        PHONE = "phone", _("phone")
        VISITOR = "visitor", _("visitor cookie")
        USER = "user", _("shop user")
        EXTERNAL = "external", _("external id")
        DEVICE = "device", _("device token")

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="identities"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=255)
    source = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"], name="omnichannel_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Delete the profile's identifiers; return how many rows went."""
        deleted, _ = cls.objects.filter(profile=profile).delete()
        return deleted


class Event(models.Model):
    """Something a customer did or that happened to them; rows are never updated."""

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="events"
    )
    name = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=32, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    # The object the event is about (a cart, an order, a message), for keyed journeys.
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    revenue = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(max_length=3, blank=True)
    idempotency_key = models.CharField(
        max_length=200, null=True, blank=True, unique=True
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                fields=["profile", "name", "occurred_at"], name="omni_event_profile"
            ),
            models.Index(fields=["name", "occurred_at"], name="omni_event_name"),
            models.Index(fields=["object_type", "object_id"], name="omni_event_object"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.occurred_at:%Y-%m-%d %H:%M}"

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Drop every event property not listed in ``ERASURE_KEEP_EVENT_PROPERTIES``.

        Names, times, amounts and object references stay, so revenue reports keep
        their totals. Returns the number of events changed.
        """
        keep = set(app_settings.ERASURE_KEEP_EVENT_PROPERTIES)
        changed = []
        for event in cls.objects.filter(profile=profile).only("pk", "properties"):
            kept = {k: v for k, v in event.properties.items() if k in keep}
            if kept != event.properties:
                event.properties = kept
                changed.append(event)
        cls.objects.bulk_update(changed, ["properties"], batch_size=1000)
        return len(changed)


class ProfileMerge(models.Model):
    """A record of one merge, with what moved, so that it can be undone."""

    survivor = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="merges_received"
    )
    loser = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="merges_lost"
    )
    reason = models.CharField(max_length=200, blank=True)
    moved = models.JSONField(
        default=dict, help_text=_("Model label -> primary keys moved to the survivor.")
    )
    loser_fields = models.JSONField(default=dict)
    survivor_fields = models.JSONField(
        default=dict,
        help_text=_("Fields of the survivor before the merge, restored by an undo."),
    )
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = _("profile merge")
        verbose_name_plural = _("profile merges")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.loser_id} -> {self.survivor_id}"


class Preference(models.Model):
    """An interest or preference the customer stated (zero-party data).

    ``key`` names the question (``interest``, ``shoe_size``); ``value`` is the answer
    (``men's running shoes``). A key may have several values.
    """

    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="preferences"
    )
    key = models.SlugField(_("key"), max_length=64)
    value = models.CharField(_("value"), max_length=200)
    source = models.CharField(
        _("source"),
        max_length=64,
        help_text=_("Where the customer said it: popup:spring-quiz, signup-form, api."),
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("stated preference")
        verbose_name_plural = _("stated preferences")
        ordering = ["key", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "key", "value"],
                name="omnichannel_preference_unique",
            )
        ]
        indexes = [models.Index(fields=["key", "value"], name="omni_preference_value")]

    def __str__(self) -> str:
        return f"{self.key}: {self.value}"

    @classmethod
    def merge_profiles(cls, survivor: Profile, loser: Profile) -> list[int]:
        """Move the loser's preferences; a value both profiles hold is kept once,
        on the survivor's row, with the earlier of the two times."""
        moved = []
        held = {
            (row.key, row.value): row for row in cls.objects.filter(profile=survivor)
        }
        for row in cls.objects.filter(profile=loser):
            twin = held.get((row.key, row.value))
            if twin is None:
                moved.append(row.pk)
                continue
            if row.recorded_at < twin.recorded_at:
                twin.recorded_at = row.recorded_at
                twin.save(update_fields=["recorded_at"])
            row.delete()
        cls.objects.filter(pk__in=moved).update(profile=survivor)
        return moved

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        deleted, _ = cls.objects.filter(profile=profile).delete()
        return deleted


class APIKey(models.Model):
    """A secret for the REST API with the scopes it grants.

    Only a SHA-256 digest of the key is stored; the key itself is shown once, when it
    is created. Keys are 256-bit random strings, so a fast digest is enough and a
    password hash would only slow every request down.
    """

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def is_active(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        if self.revoked_at is not None and self.revoked_at <= at:
            return False
        return self.expires_at is None or self.expires_at > at

    def has_scopes(self, *scopes: str) -> bool:
        return set(scopes) <= set(self.scopes)
