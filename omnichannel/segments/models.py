"""Segments: named sets of profiles defined by rules, with membership history."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.exceptions import InvalidRule, SegmentInUse
from omnichannel.profiles.models import Profile


def default_rule() -> dict[str, Any]:
    """Return the rule the admin builder starts with: no conditions, every profile."""
    return {"all": []}


class Segment(models.Model):
    """A set of profiles defined by a rule in the condition language.

    A segment whose ``rules`` is the empty object ``{}`` has no rule: code adds and
    removes its members (``add_members``, ``remove_members``), as for an imported
    list, and rebuilds and refreshes leave it alone.
    """

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("slug"),
        max_length=200,
        unique=True,
        help_text=_("Rules of other segments refer to this segment by its slug."),
    )
    description = models.TextField(_("description"), blank=True)
    rules = models.JSONField(
        _("rules"),
        default=dict,
        blank=True,
        help_text=_("Empty ({}) for a segment whose members are added by hand."),
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_(
            "An inactive segment is not re-evaluated; its members stay as they were."
        ),
    )
    rebuild_periodically = models.BooleanField(
        _("rebuilt periodically"),
        default=False,
        editable=False,
        help_text=_(
            "Set from the rules: they read the clock or scores computed in batches, "
            "so the periodic task rebuilds the segment."
        ),
    )
    last_rebuilt_at = models.DateTimeField(_("last rebuilt"), null=True, blank=True)
    last_rebuild_seconds = models.FloatField(
        _("last rebuild duration (s)"), null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Validate the rules and save; a new slug is written into the rules of
        the segments that refer to the old one."""
        from omnichannel.segments.conditions import BATCH_SOURCES, dependencies

        self.validate_rules()
        if self.is_manual:
            self.rebuild_periodically = False
        else:
            deps = dependencies(self.rules)
            self.rebuild_periodically = deps.time or bool(deps.sources & BATCH_SOURCES)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "rules" in update_fields:
            kwargs["update_fields"] = {*update_fields, "rebuild_periodically"}
        stored = getattr(self, "_stored_state", None)
        with transaction.atomic():
            if stored is not None and stored[0] != self.slug:
                self._rename_references(stored[0])
            super().save(*args, **kwargs)
        self._previous_state = stored
        self._remember_state()

    def _rename_references(self, old_slug: str) -> None:
        from omnichannel.segments.graph import references, rename_reference

        others = Segment.objects.exclude(pk=self.pk).values_list("pk", "rules")
        for pk, rules in others:
            if old_slug in references(rules):
                Segment.objects.filter(pk=pk).update(
                    rules=rename_reference(rules, old_slug, self.slug)
                )

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        """Delete the segment; raise SegmentInUse while other rules refer to it."""
        from omnichannel.segments.receivers import referencing_segments

        users = referencing_segments(self.slug)
        if users:
            raise SegmentInUse(self.slug, users)
        return super().delete(*args, **kwargs)

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Segment:
        instance = super().from_db(db, field_names, values)
        instance._remember_state()
        return instance

    def _remember_state(self) -> None:
        if self.get_deferred_fields() & {"slug", "rules", "is_active"}:
            self._stored_state = None
            return
        self._stored_state = (self.slug, self.rules, self.is_active)

    def clean(self) -> None:
        super().clean()
        try:
            self.validate_rules()
        except InvalidRule as error:
            raise ValidationError({"rules": str(error)}) from None

    @property
    def is_manual(self) -> bool:
        """Tell whether the segment has no rule, so code manages its members."""
        return self.rules == {}

    def validate_rules(self) -> None:
        """Raise InvalidRule if the rules are invalid for this segment."""
        from omnichannel.segments.conditions import validate

        if not self.is_manual:
            validate(self.rules, segment=self)

    def members(self) -> models.QuerySet[Profile]:
        """Return the profiles in the segment now."""
        return Profile.objects.filter(
            segment_memberships__segment=self,
            segment_memberships__exited_at__isnull=True,
        )


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
