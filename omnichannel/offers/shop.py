"""Creating offer codes in the shop through the shop adapter that can do it."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from omnichannel.conf import app_settings
from omnichannel.integrations.base import ShopAdapter
from omnichannel.integrations.registry import load_adapter

logger = logging.getLogger(__name__)


def code_adapter() -> ShopAdapter | None:
    """Return the first adapter in SHOP_ADAPTERS that creates discount codes, or None.

    An adapter creates codes when its class overrides
    ``ShopAdapter.create_discount_code``.
    """
    adapters = app_settings.SHOP_ADAPTERS
    if not isinstance(adapters, dict):
        return None
    for label, path in adapters.items():
        try:
            adapter = load_adapter(label, path)
        except ImproperlyConfigured:
            # The system check omnichannel.E003 reports the broken adapter.
            continue
        method = type(adapter).create_discount_code
        if method is not ShopAdapter.create_discount_code:
            return adapter
    return None


def require_code_adapter() -> ShopAdapter:
    """Return the adapter that creates discount codes, or raise ImproperlyConfigured."""
    adapter = code_adapter()
    if adapter is None:
        raise ImproperlyConfigured(
            "No adapter in OMNICHANNEL['SHOP_ADAPTERS'] creates discount codes, so "
            "offer codes cannot reach the shop's checkout. Override "
            "create_discount_code() in the shop's order adapter (docs/adapters.md), "
            "or untick 'create codes in the shop' on the offer."
        )
    return adapter


def create_shop_codes(
    adapter: ShopAdapter,
    offer: Any,
    codes: list[str],
    *,
    valid_until: Any,
    profiles: list[Any],
) -> list[str]:
    """Create ``codes`` for ``offer`` in the shop at once; return them as stored.

    ``profiles[i]`` is the customer of ``codes[i]``. Raises the adapter's
    DiscountCodeTaken or InvalidDiscountCode.
    """
    return adapter.create_discount_codes(
        codes,
        kind=offer.kind,
        value=offer.value,
        valid_until=valid_until,
        single_use=True,
        profiles=profiles,
    )
