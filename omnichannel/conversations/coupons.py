"""The console's suggestion for a VIP: a thank-you or an upsell with a coupon.

The coupon is a single-use discount code created in the shop through the order
adapter's ``create_discount_code`` hook. One conversation gets at most one coupon.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.conf import app_settings
from omnichannel.conversations.models import Conversation
from omnichannel.exceptions import CouponUnavailable, DiscountCodeTaken
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)

# Letters and digits that cannot be mistaken for one another when read aloud.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
COUPON_KINDS = ("percent", "amount", "free_shipping")


@dataclass(frozen=True)
class CouponTerms:
    """Terms of the suggested coupon: kind, value, expiry and code prefix."""

    kind: str
    value: Decimal
    valid_until: datetime
    prefix: str

    def describe(self, currency: str) -> str:
        if self.kind == "percent":
            return str(_("%(value)s%% off") % {"value": _plain(self.value)})
        if self.kind == "amount":
            return str(
                _("%(value)s %(currency)s off")
                % {"value": self.value.quantize(Decimal("0.01")), "currency": currency}
            )
        return str(_("free shipping"))


def _plain(value: Decimal) -> str:
    normalised = value.normalize()
    return format(normalised, "f")


@dataclass(frozen=True)
class Suggestion:
    """A suggested message for a VIP; ``kind`` is ``thank_you`` or ``upsell``."""

    kind: str
    title: str
    terms: CouponTerms
    offer: str

    def draft(self, profile: Profile, context: dict[str, Any], code: str) -> str:
        """Return the message text with ``code`` in it, for the agent to edit."""
        greeting = (
            _("Hi %(name)s,") % {"name": profile.first_name}
            if profile.first_name
            else _("Hi,")
        )
        until = formats.date_format(
            timezone.localtime(self.terms.valid_until), "DATE_FORMAT"
        )
        values = {"offer": self.offer, "code": code, "until": until}
        if self.kind == "thank_you":
            body = _(
                "thank you for your recent order! As one of our best customers, "
                "here is %(offer)s on your next order with the code %(code)s. It "
                "works once and is valid until %(until)s."
            )
        elif context.get("open_cart"):
            body = _(
                "I see a few things are still waiting in your cart. As one of our "
                "best customers, you get %(offer)s with the code %(code)s. It works "
                "once and is valid until %(until)s."
            )
        else:
            body = _(
                "good to hear from you again! As one of our best customers, you get "
                "%(offer)s on your next order with the code %(code)s. It works once "
                "and is valid until %(until)s."
            )
        return f"{greeting} {body % values}"


def coupon_terms(now: datetime | None = None) -> CouponTerms:
    """Return the coupon terms of the ``VIP_COUPON`` setting as of ``now``."""
    config = app_settings.VIP_COUPON
    now = now or timezone.now()
    return CouponTerms(
        kind=str(config.get("kind", "percent")),
        value=Decimal(str(config.get("value", "10"))),
        valid_until=now + timedelta(days=int(config.get("valid_days", 30))),
        prefix=str(config.get("prefix", "")),
    )


def suggest(
    profile: Profile, context: dict[str, Any], now: datetime | None = None
) -> Suggestion | None:
    """Return the suggestion for a VIP, or None for other customers.

    A VIP whose last order is at most ``VIP_THANK_YOU_DAYS`` old gets a thank-you;
    any other VIP an upsell.
    """
    if not context.get("is_vip"):
        return None
    now = now or timezone.now()
    terms = coupon_terms(now)
    offer = terms.describe(context["lifetime_value"]["currency"])
    recent = timedelta(days=int(app_settings.VIP_THANK_YOU_DAYS))
    if profile.last_order_at is not None and now - profile.last_order_at <= recent:
        return Suggestion(
            kind="thank_you",
            title=str(_("Thank-you with a coupon")),
            terms=terms,
            offer=offer,
        )
    return Suggestion(
        kind="upsell", title=str(_("Upsell with a coupon")), terms=terms, offer=offer
    )


def generate_code(prefix: str) -> str:
    random_part = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{prefix}-{random_part}" if prefix else random_part


def create_coupon(
    conversation: Conversation, *, by: Any, now: datetime | None = None
) -> str:
    """Create the single-use coupon of a conversation in the shop; return its code.

    A second call returns the code of the first. Raises CouponUnavailable when the
    shop's adapter cannot create codes or rejects the request.
    """
    from omnichannel.profiles.services import track

    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            Conversation.objects.select_for_update()
            .select_related("profile")
            .get(pk=conversation.pk)
        )
        if locked.coupon_code:
            conversation.coupon_code = locked.coupon_code
            return locked.coupon_code
        terms = coupon_terms(now)
        code = _create_in_shop(terms, locked.profile)
        locked.coupon_code = code[:64]
        locked.save(update_fields=["coupon_code", "updated_at"])
        track(
            "offer_issued",
            profile=locked.profile,
            source="conversation",
            occurred_at=now,
            object_type="conversation",
            object_id=str(locked.uuid),
            properties={
                "code": code,
                "kind": terms.kind,
                "value": str(terms.value),
                "valid_until": terms.valid_until.isoformat(),
                "single_use": True,
                "issued_by": getattr(by, "pk", None),
            },
        )
    conversation.coupon_code = locked.coupon_code
    logger.info(
        "coupon created for conversation %s by user %s",
        conversation.pk,
        getattr(by, "pk", None),
    )
    return locked.coupon_code


def _create_in_shop(terms: CouponTerms, profile: Profile) -> str:
    """Create the code through the order adapter; a taken code is replaced by a
    new random one, up to three times."""
    from omnichannel.integrations.registry import create_discount_code

    for _attempt in range(3):
        code = generate_code(terms.prefix)
        try:
            with transaction.atomic():
                return create_discount_code(
                    code=code,
                    kind=terms.kind,
                    value=terms.value,
                    valid_until=terms.valid_until,
                    single_use=True,
                    profile=profile,
                )
        except DiscountCodeTaken:
            continue
        except ImproperlyConfigured as error:
            raise CouponUnavailable(
                _("The shop cannot create discount codes: %(error)s") % {"error": error}
            ) from error
        except ValueError as error:
            raise CouponUnavailable(
                _("The shop rejected the coupon: %(error)s") % {"error": error}
            ) from error
    raise CouponUnavailable(_("Three generated codes were taken already; try again."))
