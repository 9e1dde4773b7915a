"""Create discount codes as Oscar vouchers.

Each code becomes one Voucher linked to one voucher offer: a Count condition of one
item from the range named ``RANGE_NAME`` and a benefit by kind (percentage off the
range, a fixed amount off the range, or free shipping). The range is created on first
use with every product in it. Edit it in Oscar's dashboard to exclude products, and
the codes created later follow it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from oscar.core.loading import get_model

from omnichannel.exceptions import DiscountCodeTaken
from omnichannel.integrations.contract import DiscountCodeRequest, DiscountKind

logger = logging.getLogger(__name__)

RANGE_NAME = "Omnichannel discount codes"
NAME_PREFIX = "Omnichannel code"
# Oscar's Voucher.end_datetime is required; a code without an end date gets this one.
NO_END = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def create_voucher(request: DiscountCodeRequest, *, profile: Any = None) -> str:
    """Create the voucher, its offer, condition and benefit; return the voucher code.

    Oscar stores codes in capitals, so the returned code is in capitals. Raises
    DiscountCodeTaken when a voucher with that code exists already.

    NOTE: Oscar cannot limit a voucher to one customer, so ``profile`` is only
    written into the offer's description. Anyone who has the code can use it.
    """
    voucher_model = get_model("voucher", "Voucher")
    code = request.code.upper()
    if voucher_model._default_manager.filter(code=code).exists():
        raise DiscountCodeTaken("code", f"a voucher with code {code!r} exists already.")

    try:
        with transaction.atomic():
            voucher = _write_voucher(voucher_model, request, code, profile)
    except IntegrityError as error:
        # Another request created the same code (or an offer of the same name)
        # between the check above and the insert.
        raise DiscountCodeTaken(
            "code", f"a voucher or offer named after {code!r} exists already."
        ) from error
    logger.info("voucher %s created", voucher.pk)
    return voucher.code


def _write_voucher(
    voucher_model: Any, request: DiscountCodeRequest, code: str, profile: Any
) -> Any:
    range_model = get_model("offer", "Range")
    condition_model = get_model("offer", "Condition")
    offer_model = get_model("offer", "ConditionalOffer")

    products, _ = range_model._default_manager.get_or_create(
        name=RANGE_NAME,
        defaults={
            "includes_all_products": True,
            "description": "Products that discount codes from django-omnichannel "
            "apply to.",
        },
    )
    condition = condition_model._default_manager.create(
        range=products, type=condition_model.COUNT, value=1
    )
    benefit = _benefit(request, products)
    owner = f" for profile {profile.uuid}" if getattr(profile, "uuid", None) else ""
    offer = offer_model._default_manager.create(
        name=f"{NAME_PREFIX} {code}",
        description=f"Created by django-omnichannel{owner}.",
        offer_type=offer_model.VOUCHER,
        condition=condition,
        benefit=benefit,
        max_basket_applications=1,
    )
    voucher = voucher_model._default_manager.create(
        name=f"{NAME_PREFIX} {code}",
        code=code,
        usage=voucher_model.SINGLE_USE
        if request.single_use
        else voucher_model.MULTI_USE,
        start_datetime=timezone.now(),
        end_datetime=request.valid_until or NO_END,
    )
    voucher.offers.add(offer)
    return voucher


def _benefit(request: DiscountCodeRequest, products: Any) -> Any:
    benefit_model = get_model("offer", "Benefit")
    if request.kind is DiscountKind.PERCENT:
        fields = {
            "type": benefit_model.PERCENTAGE,
            "value": request.value,
            "range": products,
        }
    elif request.kind is DiscountKind.AMOUNT:
        fields = {
            "type": benefit_model.FIXED,
            "value": request.value,
            "range": products,
        }
    else:
        fields = {"type": benefit_model.SHIPPING_PERCENTAGE, "value": 100}
    benefit = benefit_model(**fields)
    benefit.clean()
    benefit.save()
    return benefit
