"""Connect the shop adapters named in settings to the shop's models."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.module_loading import import_string

from omnichannel import context
from omnichannel.conf import app_settings
from omnichannel.exceptions import InvalidIdentifier
from omnichannel.integrations.base import (
    CartAdapter,
    CartData,
    Customer,
    OrderAdapter,
    OrderData,
    ShopAdapter,
)

logger = logging.getLogger(__name__)

_connected: list[tuple[Any, Any, str]] = []


def load_adapter(label: str, path: str) -> ShopAdapter:
    """Instantiate the adapter class at ``path`` for the model ``label``."""
    try:
        adapter_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"OMNICHANNEL['SHOP_ADAPTERS'][{label!r}] = {path!r} cannot be imported: "
            f"{error}"
        ) from error
    if not (isinstance(adapter_class, type) and issubclass(adapter_class, ShopAdapter)):
        raise ImproperlyConfigured(
            f"OMNICHANNEL['SHOP_ADAPTERS'][{label!r}] must name a subclass of "
            "omnichannel.integrations.base.OrderAdapter or CartAdapter."
        )
    adapter = adapter_class()
    adapter.model_label = label
    return adapter


def connect_adapters() -> None:
    """Connect post_save handlers for every configured adapter, replacing old ones."""
    disconnect_adapters()
    for label, path in (app_settings.SHOP_ADAPTERS or {}).items():
        try:
            model = apps.get_model(label)
            adapter = load_adapter(label, path)
        except (LookupError, ValueError, ImproperlyConfigured) as error:
            # The system check omnichannel.E002 reports this with a hint.
            logger.error("shop adapter for %s not connected: %s", label, error)
            continue
        _connect(model, adapter)


def _connect(model: Any, adapter: ShopAdapter) -> None:
    uid = f"omnichannel-adapter-{adapter.model_label}"

    def on_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if raw:
            return
        handle_instance(adapter, instance)

    post_save.connect(on_save, sender=model, weak=False, dispatch_uid=uid)
    _connected.append((post_save, model, uid))

    for related_label, parent_attribute in getattr(adapter, "watch", {}).items():
        related = apps.get_model(related_label)
        related_uid = f"{uid}-{related_label}"

        def on_related(
            sender: Any,
            instance: Any,
            raw: bool = False,
            _attribute: str = parent_attribute,
            **kwargs: Any,
        ) -> None:
            if raw:
                return
            parent = getattr(instance, _attribute, None)
            if parent is not None and parent.pk is not None:
                handle_instance(adapter, parent)

        for signal in (post_save, post_delete):
            signal.connect(
                on_related, sender=related, weak=False, dispatch_uid=related_uid
            )
            _connected.append((signal, related, related_uid))


def disconnect_adapters() -> None:
    while _connected:
        signal, sender, uid = _connected.pop()
        signal.disconnect(sender=sender, dispatch_uid=uid)


@receiver(setting_changed)
def _reconnect(*, setting: str, **kwargs: Any) -> None:
    if setting == "OMNICHANNEL":
        connect_adapters()


def handle_instance(adapter: ShopAdapter, instance: Any) -> None:
    """Turn one saved order or cart into events on the customer's profile."""
    if isinstance(adapter, OrderAdapter):
        record_order(adapter.read(instance), adapter)
    elif isinstance(adapter, CartAdapter):
        record_cart(adapter.read(instance), adapter)


def _resolve_profile(customer: Customer, what: str) -> Any:
    from omnichannel.profiles.services import identify

    request = context.current_request()
    visitor_id = customer.visitor_id or getattr(request, "omnichannel_visitor_id", "")
    user = customer.user
    if user is None and request is not None:
        request_user = getattr(request, "user", None)
        if request_user is not None and request_user.is_authenticated:
            user = request_user
    if not (
        customer.email or customer.phone or user or visitor_id or customer.external_id
    ):
        logger.info("%s has no customer identifier; nothing recorded", what)
        return None
    traits = {"first_name": customer.first_name, "last_name": customer.last_name}
    try:
        return identify(
            email=customer.email or None,
            phone=customer.phone or None,
            user=user,
            visitor_id=visitor_id or None,
            external_id=customer.external_id or None,
            source="shop",
            traits=traits,
        )
    except InvalidIdentifier as error:
        # A bad phone number on an order must not block the order: record the
        # customer without it.
        logger.warning("%s: %s; retrying without that identifier", what, error.field)
        if error.field in ("email", "phone"):
            fields = {"email": customer.email, "phone": customer.phone}
            fields[error.field] = ""
            return _resolve_profile(
                Customer(
                    user=user,
                    visitor_id=visitor_id,
                    external_id=customer.external_id,
                    first_name=customer.first_name,
                    last_name=customer.last_name,
                    **fields,
                ),
                what,
            )
        return None


def record_order(data: OrderData, adapter: ShopAdapter) -> None:
    """Record order events for one order; each state is recorded once."""
    from omnichannel.profiles.services import track

    what = f"order {adapter.model_label}:{data.order_id}"
    if not data.is_placed:
        return
    profile = _resolve_profile(data.customer, what)
    if profile is None:
        return
    key = f"{adapter.model_label}:{data.order_id}"
    common = {
        "profile": profile,
        "source": adapter.source,
        "object_type": "order",
        "object_id": data.order_id,
    }
    properties = {
        "order_id": data.order_id,
        "lines": [line.as_dict() for line in data.lines],
        "discount_codes": data.discount_codes,
        "cart_id": data.cart_id,
        "total": str(data.total),
        "currency": data.currency,
    }
    track(
        "order_placed",
        occurred_at=data.created_at,
        properties=properties,
        revenue=data.total,
        currency=data.currency,
        idempotency_key=f"order_placed:{key}",
        **common,
    )
    if data.cart_id:
        track(
            "cart_converted",
            profile=profile,
            source=adapter.source,
            object_type="cart",
            object_id=data.cart_id,
            occurred_at=data.created_at,
            properties={"order_id": data.order_id},
            idempotency_key=f"cart_converted:{data.cart_id}",
        )
    for flag, name in (
        (data.is_paid, "order_paid"),
        (data.is_cancelled, "order_cancelled"),
        (data.is_refunded, "order_refunded"),
    ):
        if flag:
            track(
                name, properties=properties, idempotency_key=f"{name}:{key}", **common
            )


def record_cart(data: CartData, adapter: ShopAdapter) -> None:
    """Record a cart change; an unchanged cart adds no event."""
    from omnichannel.profiles.services import track

    what = f"cart {adapter.model_label}:{data.cart_id}"
    if not data.lines and not data.is_converted:
        return
    profile = _resolve_profile(data.customer, what)
    if profile is None:
        return
    lines = [line.as_dict() for line in data.lines]
    digest = hashlib.sha256(
        json.dumps([lines, str(data.total), data.is_converted], sort_keys=True).encode()
    ).hexdigest()[:16]
    properties = {
        "cart_id": data.cart_id,
        "lines": lines,
        "total": str(data.total),
        "currency": data.currency,
        "item_count": sum(line.quantity for line in data.lines),
    }
    common = {
        "profile": profile,
        "source": adapter.source,
        "object_type": "cart",
        "object_id": data.cart_id,
    }
    if data.is_converted:
        track(
            "cart_converted",
            properties={"order_id": data.order_id, **properties},
            idempotency_key=f"cart_converted:{data.cart_id}",
            **common,
        )
        return
    from omnichannel.profiles.models import Event

    latest = (
        Event.objects.filter(
            name="cart_updated", object_type="cart", object_id=data.cart_id
        )
        .order_by("-occurred_at", "-id")
        .values_list("properties", flat=True)
        .first()
    )
    if latest is not None and latest.get("digest") == digest:
        return
    track(
        "cart_updated",
        occurred_at=data.updated_at,
        properties={**properties, "digest": digest},
        **common,
    )
