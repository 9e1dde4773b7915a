"""Record ``back_in_stock`` when an Oscar stock record goes from none to some.

A product is back in stock when a stock record's net level (in stock minus
allocated) rises from zero or below to above zero. Each customer with an active
Oscar product alert for the product (or its parent) gets one ``back_in_stock`` event
per alert. Oscar's own eager alert handler may close the alerts in the same save, so
alerts closed since the save began count as well.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone
from oscar.core.loading import get_model

from omnichannel.api import identify, track
from omnichannel.exceptions import InvalidIdentifier

logger = logging.getLogger(__name__)

PREVIOUS_LEVEL = "_omnichannel_previous_level"
SAVE_STARTED = "_omnichannel_save_started"


def remember_stock_level(
    sender: Any, instance: Any, raw: bool = False, **kwargs: Any
) -> None:
    """Store the stock record's net level before the save on the instance."""
    if raw:
        return
    previous = 0
    if instance.pk is not None:
        row = (
            sender._default_manager.filter(pk=instance.pk)
            .values("num_in_stock", "num_allocated")
            .first()
        )
        if row is not None:
            previous = _net_level(row["num_in_stock"], row["num_allocated"])
    setattr(instance, PREVIOUS_LEVEL, previous)
    setattr(instance, SAVE_STARTED, timezone.now())


def record_back_in_stock(
    sender: Any, instance: Any, raw: bool = False, **kwargs: Any
) -> None:
    """Record ``back_in_stock`` for each alert on the product if stock came back."""
    if raw or not hasattr(instance, PREVIOUS_LEVEL):
        return
    previous = getattr(instance, PREVIOUS_LEVEL)
    started = getattr(instance, SAVE_STARTED)
    delattr(instance, PREVIOUS_LEVEL)
    delattr(instance, SAVE_STARTED)
    level = _net_level(instance.num_in_stock, instance.num_allocated)
    if previous > 0 or level <= 0:
        return

    product = instance.product
    alert_model = get_model("customer", "ProductAlert")
    alerts = (
        alert_model._default_manager.filter(
            product_id__in=[pk for pk in (product.pk, product.parent_id) if pk]
        )
        .filter(
            Q(status=alert_model.ACTIVE)
            | Q(status=alert_model.CLOSED, date_closed__gte=started)
        )
        .select_related("user")
    )
    recorded = 0
    for alert in alerts:
        profile = _alert_profile(alert)
        if profile is None:
            continue
        track(
            "back_in_stock",
            profile=profile,
            source="oscar",
            object_type="product",
            object_id=product.pk,
            properties={
                "product_id": product.pk,
                "upc": product.upc or "",
                "title": product.get_title(),
                "url": product.get_absolute_url(),
                "partner_sku": instance.partner_sku,
                "num_available": level,
                "alert_id": alert.pk,
            },
            idempotency_key=f"back_in_stock:oscar-alert:{alert.pk}",
        )
        recorded += 1
    logger.info(
        "stock record %s back in stock: %d alerts recorded", instance.pk, recorded
    )


def _net_level(num_in_stock: int | None, num_allocated: int | None) -> int:
    if num_in_stock is None:
        return 0
    return num_in_stock - (num_allocated or 0)


def _alert_profile(alert: Any) -> Any:
    email = alert.get_email_address() or None
    try:
        return identify(user=alert.user, email=email, source="oscar")
    except InvalidIdentifier as error:
        if alert.user is None:
            logger.warning("product alert %s: unusable %s", alert.pk, error.field)
            return None
        return identify(user=alert.user, source="oscar")
