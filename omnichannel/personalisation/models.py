"""Placements with their banners, and on-site pop-ups, each with a rule and schedule."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["Banner", "Placement", "Popup"]

#: The rule that every visitor meets, also the default of a new banner or pop-up.
EVERYONE: dict[str, Any] = {"all": []}


def everyone() -> dict[str, Any]:
    return {"all": []}


def check_link(value: str) -> None:
    """Reject links other than site paths and http(s) addresses."""
    if not value:
        return
    # Browsers read a backslash as a slash, so "/\\host" would leave the site.
    if "\\" in value or any(character.isspace() for character in value):
        raise ValidationError(
            _("A link cannot contain backslashes or spaces."), code="invalid_link"
        )
    if value.startswith("/") and not value.startswith("//"):
        return
    if value.startswith(("https://", "http://")):
        return
    raise ValidationError(
        _(
            "Enter a path on this site such as /categories/parkas/ or an address "
            "starting with https:// or http://."
        ),
        code="invalid_link",
    )


def check_rules(value: Any) -> None:
    """Raise ValidationError naming the path of the first problem in a rule."""
    from omnichannel.exceptions import InvalidRule
    from omnichannel.segments.conditions import validate

    try:
        validate(value)
    except InvalidRule as error:
        raise ValidationError(str(error), code="invalid_rule") from None


class Scheduled(models.Model):
    """Fields shared by banners and pop-ups: rule, priority and schedule."""

    rules = models.JSONField(
        _("rule"),
        default=everyone,
        help_text=_(
            'Who sees it, in the segment condition language. {"all": []} means '
            "every visitor."
        ),
    )
    priority = models.IntegerField(
        _("priority"),
        default=0,
        help_text=_("When several match, the highest priority is shown."),
    )
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError(
                {"ends_at": _("The end must be after the start.")}, code="schedule"
            )
        if self.rules is not None:
            try:
                check_rules(self.rules)
            except ValidationError as error:
                raise ValidationError({"rules": error.messages}) from None

    def is_live(self, now: Any = None) -> bool:
        """Tell whether it is active and inside its schedule at ``now``."""
        now = now or timezone.now()
        if not self.is_active:
            return False
        if self.starts_at is not None and now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    @classmethod
    def live_q(cls, now: Any) -> Q:
        """Return the filter for rows active and inside their schedule at ``now``."""
        return (
            Q(is_active=True)
            & (Q(starts_at__isnull=True) | Q(starts_at__lte=now))
            & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        )


class Placement(models.Model):
    """A named slot on the site's pages, such as ``home-hero`` or ``nav``."""

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_('The name templates use: {% placement "home-hero" %}.'),
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    fallback = models.ForeignKey(
        "Banner",
        verbose_name=_("fallback banner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_(
            "Shown when no banner's rule matches the visitor, and when choosing "
            "one fails. Its own rule and schedule are not checked."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["key"]
        verbose_name = _("placement")
        verbose_name_plural = _("placements")

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        super().clean()
        if self.fallback_id is not None and self.fallback.placement_id != self.pk:
            raise ValidationError(
                {
                    "fallback": _(
                        "The fallback must be one of this placement's own banners."
                    )
                },
                code="fallback_placement",
            )


class Banner(Scheduled):
    """Content for one placement, shown to the visitors its rule matches."""

    placement = models.ForeignKey(
        Placement,
        verbose_name=_("placement"),
        on_delete=models.CASCADE,
        related_name="banners",
    )
    name = models.CharField(
        _("name"), max_length=200, help_text=_("For the admin; visitors never see it.")
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    body = models.TextField(_("body"), blank=True, help_text=_("Plain text."))
    image_url = models.CharField(
        _("image URL"), max_length=500, blank=True, validators=[check_link]
    )
    link_url = models.CharField(
        _("link URL"), max_length=500, blank=True, validators=[check_link]
    )
    link_text = models.CharField(_("link text"), max_length=100, blank=True)

    class Meta:
        ordering = ["placement", "-priority", "id"]
        verbose_name = _("banner")
        verbose_name_plural = _("banners")
        indexes = [
            models.Index(fields=["is_active", "placement"], name="omni_banner_live"),
        ]

    def __str__(self) -> str:
        return f"{self.placement_id and self.placement.key}: {self.name}"


class Popup(Scheduled):
    """An on-site pop-up, with an optional email capture and offer."""

    class Trigger(models.TextChoices):
        RETURN = "return", _("on a return visit")
        DELAY = "delay", _("after some seconds on the page")
        EXIT_INTENT = "exit_intent", _("when the visitor moves to leave")

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_("Names the pop-up in events, URLs and consent proof."),
    )
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True, help_text=_("Plain text."))
    trigger = models.CharField(
        _("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.DELAY
    )
    delay_seconds = models.PositiveIntegerField(
        _("delay in seconds"),
        default=5,
        validators=[MaxValueValidator(3600)],
        help_text=_("For the delay trigger: seconds on the page before it opens."),
    )
    collect_email = models.BooleanField(
        _("collect email"),
        default=False,
        help_text=_("Show an email field whose submission records marketing consent."),
    )
    consent_text = models.CharField(
        _("consent text"),
        max_length=500,
        blank=True,
        help_text=_(
            "The sentence next to the consent box, kept with the consent as proof."
        ),
    )
    consent_version = models.CharField(
        _("consent wording version"), max_length=64, blank=True
    )
    preference_key = models.SlugField(
        _("preference key"),
        max_length=64,
        blank=True,
        help_text=_("Ask for one stated preference, such as interest."),
    )
    preference_label = models.CharField(
        _("preference question"), max_length=200, blank=True
    )
    preference_choices = models.JSONField(
        _("preference choices"),
        default=list,
        blank=True,
        help_text=_('The answers offered, as a list: ["Men", "Women", "Kids"].'),
    )
    offer_slug = models.SlugField(
        _("offer"),
        max_length=100,
        blank=True,
        help_text=_(
            "Slug of an offer whose code the pop-up shows, or that it acknowledges "
            "as already used."
        ),
    )
    button_text = models.CharField(_("button text"), max_length=100, blank=True)
    max_per_visitor = models.PositiveSmallIntegerField(
        _("showings per visitor"),
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_("The browser stops showing it after this many showings."),
    )

    class Meta:
        ordering = ["-priority", "id"]
        verbose_name = _("pop-up")
        verbose_name_plural = _("pop-ups")

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        if self.collect_email and not self.consent_text.strip():
            errors["consent_text"] = _(
                "A pop-up that collects email needs the consent sentence the "
                "visitor agrees to."
            )
        choices = self.preference_choices
        if not isinstance(choices, list) or not all(
            isinstance(choice, str) and 0 < len(choice.strip()) <= 200
            for choice in choices
        ):
            errors["preference_choices"] = _(
                "Give a list of answers, each text of 1 to 200 characters."
            )
        elif self.preference_key and not choices:
            errors["preference_choices"] = _(
                "A preference question needs at least one answer."
            )
        elif choices and not self.preference_key:
            errors["preference_key"] = _(
                "Name the preference the answers are stored under."
            )
        if self.preference_key and not self.collect_email:
            errors["collect_email"] = _(
                "Preferences are asked in the email form; turn on collect email."
            )
        if self.offer_slug:
            from django.apps import apps

            offer_model = apps.get_model("omnichannel", "Offer")
            if not offer_model.objects.filter(slug=self.offer_slug).exists():
                errors["offer_slug"] = _(
                    "There is no offer %(slug)s; create it under Offers first, or "
                    "leave this empty."
                ) % {"slug": self.offer_slug}
        if errors:
            raise ValidationError(errors)
