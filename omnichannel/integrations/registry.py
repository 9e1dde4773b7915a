"""Connect the shop adapters named in settings to the shop's models."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.module_loading import import_string

from omnichannel import context
from omnichannel.conf import app_settings
from omnichannel.exceptions import InvalidIdentifier, OfferCodeRejected
from omnichannel.integrations.base import (
    CartAdapter,
    CartData,
    Customer,
    OrderAdapter,
    OrderData,
    ShopAdapter,
)
from omnichannel.integrations.contract import check_cart_data, check_order_data

logger = logging.getLogger(__name__)

_connected: list[tuple[Any, Any, str]] = []
_adapters: dict[str, ShopAdapter] = {}
MAX_KEY_LENGTH = 200


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
    adapters = app_settings.SHOP_ADAPTERS
    if not isinstance(adapters, dict):
        # The system check omnichannel.E002 reports this with a hint.
        logger.error("OMNICHANNEL['SHOP_ADAPTERS'] is not a dict; no adapter connected")
        return
    for label, path in adapters.items():
        try:
            model = apps.get_model(label)
            adapter = load_adapter(label, path)
        except (LookupError, ValueError, ImproperlyConfigured) as error:
            # The system check omnichannel.E002 reports this with a hint.
            logger.error("shop adapter for %s not connected: %s", label, error)
            continue
        _connect(model, adapter)
        _adapters[label] = adapter


def configured_adapters() -> dict[str, ShopAdapter]:
    """Return the connected adapters by model label, in the order of the setting."""
    return dict(_adapters)


def _connect(model: Any, adapter: ShopAdapter) -> None:
    uid = f"omnichannel-adapter-{adapter.model_label}"

    def on_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if raw:
            return
        handle_instance(adapter, instance)

    post_save.connect(on_save, sender=model, weak=False, dispatch_uid=uid)
    _connected.append((post_save, model, uid))

    for index, extra in enumerate(adapter.get_receivers()):
        extra_uid = f"{uid}-receiver-{index}"
        extra.signal.connect(
            _guard_receiver(adapter, extra.handler),
            sender=extra.sender,
            weak=False,
            dispatch_uid=extra_uid,
        )
        _connected.append((extra.signal, extra.sender, extra_uid))

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
    _adapters.clear()


def _guard_receiver(
    adapter: ShopAdapter, handler: Callable[..., Any]
) -> Callable[..., None]:
    def guarded(sender: Any, **kwargs: Any) -> None:
        run_guarded(
            adapter, getattr(handler, "__name__", "receiver"), handler, sender, **kwargs
        )

    return guarded


def run_guarded(
    adapter: ShopAdapter,
    subject: str,
    function: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> None:
    """Call ``function`` so that a failure cannot undo the shop's own write.

    With ``SHOP_ADAPTER_ERRORS = "log"`` the call runs in a savepoint. An error rolls
    back what the adapter wrote and is logged with its traceback and ``subject``,
    and the shop's order or cart is kept; OfferCodeRejected still propagates, so an
    order cannot use a code it may not use. With ``"raise"`` every error
    propagates, which tests want.
    """
    if app_settings.SHOP_ADAPTER_ERRORS == "raise":
        function(*args, **kwargs)
        return
    try:
        with transaction.atomic():
            function(*args, **kwargs)
    except OfferCodeRejected:
        # A code the order may not use is a verdict on the order, not an adapter
        # fault: the order's transaction must fail with the reason.
        raise
    except Exception:
        # Any other exception is caught, so a broken adapter cannot fail a checkout.
        # Once the adapter is fixed, `omnichannel_sync_orders` records the order.
        logger.exception(
            "shop adapter for %s failed in %s; nothing recorded",
            adapter.model_label,
            subject,
        )


@receiver(setting_changed)
def _reconnect(*, setting: str, **kwargs: Any) -> None:
    if setting == "OMNICHANNEL":
        connect_adapters()


def handle_instance(adapter: ShopAdapter, instance: Any) -> None:
    """Turn one saved order or cart into events on the customer's profile.

    Errors follow ``SHOP_ADAPTER_ERRORS`` (see ``run_guarded``).
    """
    label = getattr(instance._meta, "label", "")
    run_guarded(adapter, f"{label} {instance.pk}", record_instance, adapter, instance)


def record_instance(adapter: ShopAdapter, instance: Any) -> None:
    """Read one order or cart through its adapter and record its events.

    Raises AdapterError when the adapter returns a value of the wrong shape.
    """
    if isinstance(adapter, OrderAdapter):
        record_order(check_order_data(adapter.read(instance), adapter), adapter)
    elif isinstance(adapter, CartAdapter):
        record_cart(check_cart_data(adapter.read(instance), adapter), adapter)


def idempotency_key(*parts: str) -> str:
    """Join ``parts`` into an idempotency key that fits the Event column."""
    key = ":".join(parts)
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: MAX_KEY_LENGTH - len(digest) - 1]}:{digest}"


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
    """Record order events for one order; each state is recorded once.

    An order whose events all exist already costs one query: the customer is only
    resolved when something is left to record.
    """
    from omnichannel.profiles.services import track

    if not data.is_placed:
        return
    key = f"{adapter.model_label}:{data.order_id}"
    on_order = {"object_type": "order", "object_id": data.order_id}
    properties = {
        "order_id": data.order_id,
        "lines": [line.as_dict() for line in data.lines],
        "discount_codes": data.discount_codes,
        "cart_id": data.cart_id,
        "total": str(data.total),
        "currency": data.currency,
    }
    planned: list[tuple[str, str, dict[str, Any]]] = [
        (
            "order_placed",
            idempotency_key("order_placed", key),
            {
                **on_order,
                "occurred_at": data.created_at,
                "properties": properties,
                "revenue": data.total,
                "currency": data.currency,
            },
        )
    ]
    for code in sorted(set(data.discount_codes)):
        code_properties = {
            "code": code,
            "order_id": data.order_id,
            "total": str(data.total),
            "currency": data.currency,
        }
        planned.append(
            (
                "discount_code_used",
                idempotency_key("discount_code_used", key, code),
                {
                    **on_order,
                    "occurred_at": data.created_at,
                    "properties": code_properties,
                },
            )
        )
    if data.cart_id:
        planned.append(
            (
                "cart_converted",
                idempotency_key("cart_converted", data.cart_id),
                {
                    "object_type": "cart",
                    "object_id": data.cart_id,
                    "occurred_at": data.created_at,
                    "properties": {"order_id": data.order_id},
                },
            )
        )
    for flag, name in (
        (data.is_paid, "order_paid"),
        (data.is_cancelled, "order_cancelled"),
        (data.is_refunded, "order_refunded"),
    ):
        if flag:
            planned.append(
                (
                    name,
                    idempotency_key(name, key),
                    {**on_order, "properties": properties},
                )
            )

    recorded = _recorded_keys([event_key for _, event_key, _ in planned])
    planned = [item for item in planned if item[1] not in recorded]
    if not planned:
        return
    profile = _resolve_profile(data.customer, f"order {key}")
    if profile is None:
        return
    for name, event_key, arguments in planned:
        track(
            name,
            profile=profile,
            source=adapter.source,
            idempotency_key=event_key,
            **arguments,
        )


def _recorded_keys(keys: list[str]) -> set[str]:
    from omnichannel.profiles.models import Event

    return set(
        Event.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )


def record_cart(data: CartData, adapter: ShopAdapter) -> None:
    """Record a cart change; an unchanged cart adds no event.

    The customer is only resolved when there is something new to record.
    """
    from omnichannel.profiles.models import Event
    from omnichannel.profiles.services import track

    if not data.is_converted and (not data.lines or not data.is_open):
        return
    lines = [line.as_dict() for line in data.lines]
    digest = hashlib.sha256(
        json.dumps([lines, str(data.total), data.is_converted], sort_keys=True).encode()
    ).hexdigest()[:16]
    properties = {
        "cart_id": data.cart_id,
        "cart_model": adapter.model_label,
        "lines": lines,
        "total": str(data.total),
        "currency": data.currency,
        "item_count": sum(line.quantity for line in data.lines),
    }
    converted_key = idempotency_key("cart_converted", data.cart_id)
    if data.is_converted:
        if _recorded_keys([converted_key]):
            return
    else:
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

    profile = _resolve_profile(
        data.customer, f"cart {adapter.model_label}:{data.cart_id}"
    )
    if profile is None:
        return
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
            idempotency_key=converted_key,
            **common,
        )
        return
    track(
        "cart_updated",
        occurred_at=data.updated_at,
        properties={**properties, "digest": digest},
        **common,
    )


def discount_code_adapter() -> ShopAdapter:
    """Return the first configured adapter that overrides ``create_discount_code``.

    Raises ImproperlyConfigured when no configured adapter can create codes.
    """
    for adapter in _adapters.values():
        method = type(adapter).create_discount_code
        if method is not ShopAdapter.create_discount_code:
            return adapter
    raise ImproperlyConfigured(
        "No adapter in OMNICHANNEL['SHOP_ADAPTERS'] creates discount codes. Override "
        "create_discount_code() in the shop's order adapter (docs/adapters.md)."
    )


def create_discount_code(
    *,
    code: str,
    kind: str,
    value: Decimal | int | str = Decimal("0"),
    valid_until: datetime | None = None,
    single_use: bool = True,
    profile: Any = None,
) -> str:
    """Create a discount code in the shop through its adapter; return the code.

    Raises InvalidDiscountCode on a bad argument, DiscountCodeTaken when the code
    exists, and ImproperlyConfigured when no adapter creates codes.
    """
    adapter = discount_code_adapter()
    created = adapter.create_discount_code(
        code=code,
        kind=kind,
        value=value,
        valid_until=valid_until,
        single_use=single_use,
        profile=profile,
    )
    logger.info(
        "discount code created by %s for profile %s",
        adapter.model_label,
        getattr(profile, "pk", None),
    )
    return created
