"""Offers, the per-customer codes that carry them, and each customer's claim state."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Profile
from omnichannel.segments.models import Segment

__all__ = ["CustomerOffer", "Offer", "OfferCode"]

CODE_PREFIX_PATTERN = r"^[A-Z0-9]{0,12}$"


class Offer(models.Model):
    """A promotion that customers receive as personal, single-use codes."""

    class Kind(models.TextChoices):
        FREE_SHIPPING = "free_shipping", _("free shipping")
        PERCENT = "percent", _("percentage off")
        AMOUNT = "amount", _("amount off")
        GIFT = "gift", _("free gift")

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(
        _("description"),
        blank=True,
        help_text=_("What the customer gets, in words shown next to the code."),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_(
            "Percent (0.01 to 100) for percentage offers, an amount in the currency "
            "below for amount offers; ignored for free shipping and gifts."
        ),
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        blank=True,
        help_text=_("ISO 4217 code of an amount offer; empty means the default."),
    )
    gift = models.CharField(
        _("gift"),
        max_length=200,
        blank=True,
        help_text=_("The product given away, for gift offers."),
    )
    starts_at = models.DateTimeField(
        _("starts at"),
        null=True,
        blank=True,
        help_text=_("Codes are issued and accepted from this time; empty: at once."),
    )
    ends_at = models.DateTimeField(
        _("ends at"),
        null=True,
        blank=True,
        help_text=_("No code is issued or accepted after this time; empty: never."),
    )
    code_valid_for = models.DurationField(
        _("code valid for"),
        null=True,
        blank=True,
        help_text=_(
            "How long each code stays valid after it is issued, such as 7 days; "
            "the offer's end still applies. Empty: until the offer ends."
        ),
    )
    max_codes = models.PositiveIntegerField(
        _("maximum codes"),
        null=True,
        blank=True,
        help_text=_("Issue at most this many codes in total; empty: no limit."),
    )
    max_claims = models.PositiveIntegerField(
        _("maximum claims"),
        null=True,
        blank=True,
        help_text=_("Accept at most this many orders in total; empty: no limit."),
    )
    segments = models.ManyToManyField(
        Segment,
        verbose_name=_("audience"),
        blank=True,
        related_name="offers",
        help_text=_(
            "Only members of one of these segments get a code; none: everyone."
        ),
    )
    code_prefix = models.CharField(
        _("code prefix"),
        max_length=12,
        blank=True,
        validators=[
            RegexValidator(
                CODE_PREFIX_PATTERN,
                _("Use up to 12 capital letters and digits, such as SHIP."),
            )
        ],
        help_text=_("Put in front of every code with a dash, such as SHIP-7KQ2M9XDAB."),
    )
    create_in_shop = models.BooleanField(
        _("create codes in the shop"),
        default=True,
        help_text=_(
            "Create each code as a discount code of the shop through its adapter, "
            "so that the shop's checkout accepts it. Untick for codes redeemed only "
            "at the till or in the app."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gte=0), name="omnichannel_offer_value_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent", value__gt=100),
                name="omnichannel_offer_percent_at_most_100",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=models.F("starts_at")),
                name="omnichannel_offer_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.kind == self.Kind.PERCENT and not (0 < self.value <= 100):
            errors.setdefault("value", []).append(
                _("A percentage offer needs a value from 0.01 to 100.")
            )
        if self.kind == self.Kind.AMOUNT and self.value <= 0:
            errors.setdefault("value", []).append(
                _("An amount offer needs a value above 0.")
            )
        if self.kind == self.Kind.GIFT and not self.gift.strip():
            errors.setdefault("gift", []).append(
                _("Name the product that a gift offer gives away.")
            )
        if self.kind == self.Kind.GIFT and self.create_in_shop:
            errors.setdefault("create_in_shop", []).append(
                _(
                    "Shop discount codes take money or shipping off an order and "
                    "cannot give a gift. Untick this for gift offers."
                )
            )
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors.setdefault("ends_at", []).append(
                _("The offer must end after it starts.")
            )
        if self.code_valid_for is not None and self.code_valid_for.total_seconds() <= 0:
            errors.setdefault("code_valid_for", []).append(
                _("Give a positive duration, or leave it empty.")
            )
        if errors:
            raise ValidationError(errors)

    def code_valid_until(self, issued_at: datetime) -> datetime | None:
        """Return when a code issued at ``issued_at`` stops being accepted."""
        candidates = [self.ends_at] if self.ends_at else []
        if self.code_valid_for is not None:
            candidates.append(issued_at + self.code_valid_for)
        return min(candidates) if candidates else None


class CustomerOffer(models.Model):
    """One customer's copy of an offer and where they are with it.

    There is one row per customer and offer whatever the number of codes (a merge
    of two profiles can leave it with two), so every channel reads one state.
    """

    class State(models.TextChoices):
        ISSUED = "issued", _("issued")
        SEEN = "seen", _("seen")
        CLAIMED = "claimed", _("claimed")
        EXPIRED = "expired", _("expired")

    offer = models.ForeignKey(
        Offer,
        verbose_name=_("offer"),
        on_delete=models.PROTECT,
        related_name="customer_offers",
    )
    profile = models.ForeignKey(
        Profile,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="offers",
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.ISSUED
    )
    source = models.CharField(
        _("source"),
        max_length=200,
        blank=True,
        help_text=_("What issued it, such as journey:cart-recovery:popup."),
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    order_id = models.CharField(
        _("order"), max_length=64, blank=True, help_text=_("The order that used it.")
    )
    claim_channel = models.CharField(
        _("claimed through"),
        max_length=32,
        blank=True,
        help_text=_("Source of the order event: shop, app, pos, api..."),
    )
    revenue = models.DecimalField(
        _("order revenue"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)

    class Meta:
        verbose_name = _("customer offer")
        verbose_name_plural = _("customer offers")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "profile"], name="omnichannel_one_offer_per_customer"
            ),
        ]
        indexes = [
            models.Index(fields=["profile", "state"], name="omni_custoffer_profile"),
            models.Index(fields=["offer", "state"], name="omni_custoffer_offer"),
            models.Index(fields=["state", "valid_until"], name="omni_custoffer_due"),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} for {self.profile_id} ({self.state})"

    def state_at(self, at: datetime | None = None) -> str:
        """Return the state at ``at``, counting an open code that can no longer be
        used (past its end, or its offer ended or withdrawn) as expired.

        The stored state turns to expired only when the periodic task runs; readers
        use this so that no surface offers a dead code in the meantime. It reads
        ``self.offer``, so load many rows with ``select_related("offer")``.
        """
        if self.state not in (self.State.ISSUED, self.State.SEEN):
            return self.state
        at = at or timezone.now()
        offer = self.offer
        ends = [value for value in (self.valid_until, offer.ends_at) if value]
        if not offer.is_active or (ends and min(ends) <= at):
            return self.State.EXPIRED
        return self.state

    @classmethod
    def merge_profiles(cls, survivor: Profile, loser: Profile) -> list[int]:
        """Move the loser's offers to the survivor, joining two copies of one offer.

        When both hold the same offer, the survivor's row keeps the furthest state
        (claimed, then seen, then issued) and takes the loser's codes, so both
        codes keep pointing at the one state. Only rows moved whole are returned.
        """
        from omnichannel.offers.merging import merge_customer_offers

        return merge_customer_offers(survivor, loser)


class OfferCode(models.Model):
    """A code that redeems one customer's offer; unique across all offers."""

    customer_offer = models.ForeignKey(
        CustomerOffer,
        verbose_name=_("customer offer"),
        on_delete=models.CASCADE,
        related_name="codes",
    )
    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Stored in capitals; customers may type it in any case."),
    )
    shop_code = models.CharField(
        _("code in the shop"),
        max_length=40,
        blank=True,
        help_text=_("The code as the shop stored it; empty when not created there."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("offer code")
        verbose_name_plural = _("offer codes")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.code
