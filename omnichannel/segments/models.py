"""Segments: named sets of profiles defined by rules, with membership history."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Profile


class Segment(models.Model):
    """A set of profiles defined by a rule in the condition language."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    rules = models.JSONField(_("rules"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """One stay of a profile in a segment; ``exited_at`` is empty while it lasts."""

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships"
    )
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="segment_memberships"
    )
    entered_at = models.DateTimeField(default=timezone.now)
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "profile"],
                condition=models.Q(exited_at__isnull=True),
                name="omnichannel_one_open_membership",
            )
        ]
        indexes = [
            models.Index(
                fields=["segment", "exited_at"], name="omni_membership_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.segment_id}"

    @classmethod
    def merge_profiles(cls, survivor: Profile, loser: Profile) -> list[int]:
        """Move the loser's memberships; one that overlaps an open membership of the
        survivor in the same segment is closed first, so history is kept."""
        open_segments = cls.objects.filter(
            profile=survivor, exited_at__isnull=True
        ).values_list("segment_id", flat=True)
        cls.objects.filter(
            profile=loser, exited_at__isnull=True, segment_id__in=list(open_segments)
        ).update(exited_at=timezone.now())
        moved = list(cls.objects.filter(profile=loser).values_list("pk", flat=True))
        cls.objects.filter(pk__in=moved).update(profile=survivor)
        return moved
