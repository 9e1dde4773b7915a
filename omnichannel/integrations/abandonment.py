"""Report carts that stopped changing and never became an order.

A cart is abandoned when its last ``cart_updated`` event is older than
``CART_ABANDONED_AFTER``, no ``cart_converted`` event exists for it, and its adapter
still reads it as open with lines. Each cart state is reported once: a
``cart_abandoned`` event keyed by the ``cart_updated`` event it follows. A cart that
changes again and then goes quiet is reported again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.integrations import registry
from omnichannel.integrations.base import CartAdapter

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def abandoned_cart_events(now: datetime) -> Any:
    """Return the ``cart_updated`` events of carts abandoned as of ``now``."""
    from omnichannel.profiles.models import Event

    newer = Event.objects.filter(
        object_type="cart",
        object_id=OuterRef("object_id"),
        name__in=("cart_updated", "cart_converted", "cart_abandoned"),
        id__gt=OuterRef("id"),
    )
    converted = Event.objects.filter(
        name="cart_converted", object_type="cart", object_id=OuterRef("object_id")
    )
    return (
        Event.objects.filter(
            name="cart_updated",
            object_type="cart",
            occurred_at__lte=now - app_settings.CART_ABANDONED_AFTER,
            occurred_at__gte=now - app_settings.CART_ABANDONED_MAX_AGE,
        )
        .exclude(Exists(newer))
        .exclude(Exists(converted))
        .select_related("profile")
        .order_by("id")
    )


def detect_abandoned_carts(*, now: datetime | None = None) -> int:
    """Record a ``cart_abandoned`` event for each newly abandoned cart; return them.

    ``now`` defaults to the current time. The event's time is the moment the cart
    became abandoned (last change plus ``CART_ABANDONED_AFTER``), not the time of
    the scan, so a late scan does not shift what journeys see.
    """
    from omnichannel.profiles.services import track

    now = now or timezone.now()
    adapters = registry.configured_adapters()
    recorded = skipped = 0
    last_id = 0
    while True:
        batch = list(abandoned_cart_events(now).filter(id__gt=last_id)[:BATCH_SIZE])
        if not batch:
            break
        last_id = batch[-1].id
        still_open = _carts_still_open(batch, adapters)
        # One transaction per batch rather than one per event: the events of a
        # batch commit together, and a failure leaves the earlier batches stored.
        with transaction.atomic():
            for event in batch:
                if not still_open[event.id]:
                    skipped += 1
                    continue
                track(
                    "cart_abandoned",
                    profile=event.profile,
                    source=event.source,
                    object_type="cart",
                    object_id=event.object_id,
                    occurred_at=event.occurred_at + app_settings.CART_ABANDONED_AFTER,
                    properties=_abandoned_properties(event),
                    idempotency_key=registry.idempotency_key(
                        "cart_abandoned", str(event.id)
                    ),
                )
                recorded += 1
    logger.info("abandoned carts: %d recorded, %d skipped", recorded, skipped)
    return recorded


def _carts_still_open(events: list[Any], adapters: dict[str, Any]) -> dict[int, bool]:
    """Ask each cart's adapter whether the cart is still open, unconverted and full.

    Returns the result per event id. Each adapter reads its carts of the batch at
    once. Events of carts whose model has no adapter any more are taken at their
    word.
    """
    by_label: dict[str, list[Any]] = {}
    results: dict[int, bool] = {}
    for event in events:
        label = event.properties.get("cart_model", "")
        if isinstance(adapters.get(label), CartAdapter):
            by_label.setdefault(label, []).append(event)
        else:
            results[event.id] = True
    for label, labelled in by_label.items():
        adapter = adapters[label]
        carts = adapter.get_carts([event.object_id for event in labelled])
        for event in labelled:
            cart = carts.get(event.object_id)
            results[event.id] = cart is not None and adapter.is_abandonable(cart)
    return results


def _abandoned_properties(event: Any) -> dict[str, Any]:
    keep = ("cart_id", "cart_model", "lines", "total", "currency", "item_count")
    properties = {
        name: event.properties[name] for name in keep if name in event.properties
    }
    properties["last_activity_at"] = event.occurred_at.isoformat()
    properties["cart_updated_event_id"] = event.id
    return properties
