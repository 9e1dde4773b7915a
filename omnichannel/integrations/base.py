"""The contract between a shop's models and the app.

A shop plugs in by naming, in ``OMNICHANNEL["SHOP_ADAPTERS"]``, an adapter class for its
order model and one for its cart model. The app connects ``post_save`` handlers to
those models and asks the adapter to read each saved instance. Adapters only read the
shop's tables, with one exception: ``create_discount_code`` writes a code the shop's
checkout accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.dispatch import Signal
from django.utils import timezone


@dataclass(frozen=True)
class Customer:
    """Identifiers of the person behind an order or a cart; any may be empty."""

    user: Any = None
    email: str = ""
    phone: str = ""
    visitor_id: str = ""
    external_id: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class Line:
    """One product line of an order or a cart."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    category: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": str(self.unit_price),
            "category": self.category,
        }


@dataclass(frozen=True)
class OrderData:
    """What the app needs of one order."""

    order_id: str
    customer: Customer
    total: Decimal
    currency: str
    created_at: datetime
    lines: list[Line] = field(default_factory=list)
    discount_codes: list[str] = field(default_factory=list)
    cart_id: str = ""
    is_placed: bool = True
    is_cancelled: bool = False
    is_refunded: bool = False
    is_paid: bool = False


@dataclass(frozen=True)
class CartData:
    """What the app needs of one cart."""

    cart_id: str
    customer: Customer
    total: Decimal
    currency: str
    updated_at: datetime
    lines: list[Line] = field(default_factory=list)
    is_converted: bool = False
    order_id: str = ""
    #: False once the customer can no longer check this cart out (merged into
    #: another cart, saved for later). Such a cart records no changes and is never
    #: reported as abandoned.
    is_open: bool = True


class Receiver(NamedTuple):
    """A signal handler an adapter asks the registry to connect.

    ``sender`` limits the handler to one sender, as in ``Signal.connect``.
    """

    signal: Signal
    handler: Callable[..., Any]
    sender: Any = None


class ShopAdapter:
    """Base of all adapters. ``model_label`` is set by the registry."""

    model_label: str = ""
    #: Source recorded on the events this adapter produces.
    source: str = "shop"
    #: Related models whose saves and deletes count as a change of the adapted
    #: instance: model label -> name of the attribute that leads to it, for example
    #: ``{"shop.CartLine": "cart"}``.
    watch: dict[str, str] = {}

    @property
    def model(self) -> Any:
        """Return the model class this adapter reads."""
        return apps.get_model(self.model_label)

    def get_receivers(self) -> list[Receiver]:
        """Return extra signal handlers to connect beside the ``post_save`` handler.

        Override it when the shop announces changes with its own signals rather
        than by saving the model. The registry connects the handlers when the app
        starts and disconnects them when ``OMNICHANNEL`` changes.
        """
        return []

    def create_discount_code(
        self,
        *,
        code: str,
        kind: str,
        value: Decimal,
        valid_until: datetime | None,
        single_use: bool,
        profile: Any,
    ) -> str:
        """Create a discount code the shop's checkout accepts; return the code.

        ``kind`` is ``"percent"``, ``"amount"`` (in the shop's currency) or
        ``"free_shipping"``. ``profile`` is the customer the code is meant for, or
        None. Check the arguments with
        ``omnichannel.integrations.contract.clean_discount_code_request``; raise
        InvalidDiscountCode on a bad one and DiscountCodeTaken when the code exists.
        Write in the caller's transaction, so a rollback removes the code.
        """
        raise NotImplementedError(
            f"{type(self).__qualname__} cannot create discount codes. Override "
            "create_discount_code() in the shop's adapter to write a code to the "
            "shop's own discount model; docs/adapters.md shows how."
        )

    def create_discount_codes(
        self,
        codes: Sequence[str],
        *,
        kind: str,
        value: Decimal,
        valid_until: datetime | None,
        single_use: bool,
        profiles: Sequence[Any],
    ) -> list[str]:
        """Create many discount codes of one kind; return the codes in order.

        ``profiles[i]`` is the customer ``codes[i]`` is meant for, or None. Bulk
        issues of offer codes call it once per chunk. The default calls
        ``create_discount_code`` once per code. Override it to write all codes
        in a few queries. It raises as ``create_discount_code`` does, and the
        caller's transaction undoes the codes already written.
        """
        if len(codes) != len(profiles):
            raise ValueError(
                f"profiles must have one entry per code: got {len(codes)} codes "
                f"and {len(profiles)} profiles."
            )
        return [
            self.create_discount_code(
                code=code,
                kind=kind,
                value=value,
                valid_until=valid_until,
                single_use=single_use,
                profile=profile,
            )
            for code, profile in zip(codes, profiles, strict=True)
        ]

    def get_customer(self, instance: Any) -> Customer:
        """Return the identifiers of the customer behind ``instance``."""
        user = getattr(instance, "user", None)
        return Customer(
            user=user if getattr(user, "pk", None) else None,
            email=getattr(instance, "email", "") or "",
            phone=getattr(instance, "phone", "") or "",
        )

    def get_lines(self, instance: Any) -> list[Line]:
        """Return the product lines; the default reads ``instance.lines``."""
        lines = getattr(instance, "lines", None)
        if lines is None:
            return []
        result = []
        for line in lines.all():
            product = getattr(line, "product", None)
            category = getattr(getattr(product, "category", None), "name", "")
            result.append(
                Line(
                    sku=str(getattr(line, "sku", "") or getattr(product, "sku", "")),
                    name=str(getattr(line, "name", "") or getattr(product, "name", "")),
                    quantity=int(line.quantity),
                    unit_price=Decimal(line.unit_price),
                    category=category,
                )
            )
        return result


class OrderAdapter(ShopAdapter):
    """Reads an order model. Override the ``get_*`` and ``is_*`` methods as needed."""

    def read(self, instance: Any) -> OrderData:
        return OrderData(
            order_id=self.get_order_id(instance),
            customer=self.get_customer(instance),
            total=self.get_total(instance),
            currency=self.get_currency(instance),
            created_at=self.get_created_at(instance),
            lines=self.get_lines(instance),
            discount_codes=self.get_discount_codes(instance),
            cart_id=self.get_cart_id(instance),
            is_placed=self.is_placed(instance),
            is_cancelled=self.is_cancelled(instance),
            is_refunded=self.is_refunded(instance),
            is_paid=self.is_paid(instance),
        )

    def get_order_id(self, instance: Any) -> str:
        return str(instance.pk)

    def get_total(self, instance: Any) -> Decimal:
        return Decimal(instance.total)

    def get_currency(self, instance: Any) -> str:
        from omnichannel.conf import app_settings

        return getattr(instance, "currency", "") or app_settings.DEFAULT_CURRENCY

    def get_created_at(self, instance: Any) -> datetime:
        return getattr(instance, "created_at", None) or timezone.now()

    def get_discount_codes(self, instance: Any) -> list[str]:
        code = getattr(instance, "discount_code", "")
        return [code] if code else []

    def get_cart_id(self, instance: Any) -> str:
        return ""

    def is_placed(self, instance: Any) -> bool:
        """Tell whether the order counts as placed (the default: once it exists)."""
        return True

    def is_cancelled(self, instance: Any) -> bool:
        return getattr(instance, "status", "") == "cancelled"

    def is_refunded(self, instance: Any) -> bool:
        return getattr(instance, "status", "") == "refunded"

    def is_paid(self, instance: Any) -> bool:
        return getattr(instance, "status", "") == "paid"

    def get_delivery_status(self, order_id: str) -> dict[str, Any] | None:
        """Return what the shop knows of an order's delivery, or None.

        The assistant's chat bot quotes it to the customer who placed the order.
        Return a dict of plain values, such as ``{"status": "shipped", "carrier":
        "DHL", "tracking_number": "...", "expected_on": "2025-03-04"}``. The
        default knows nothing; override it to read the shop's shipping records.
        """
        return None


class CartAdapter(ShopAdapter):
    """Reads a cart model."""

    def read(self, instance: Any) -> CartData:
        return CartData(
            cart_id=self.get_cart_id(instance),
            customer=self.get_customer(instance),
            total=self.get_total(instance),
            currency=self.get_currency(instance),
            updated_at=self.get_updated_at(instance),
            lines=self.get_lines(instance),
            is_converted=self.is_converted(instance),
            order_id=self.get_order_id(instance),
            is_open=self.is_open(instance),
        )

    def get_cart_id(self, instance: Any) -> str:
        return str(instance.pk)

    def get_total(self, instance: Any) -> Decimal:
        return sum(
            (line.unit_price * line.quantity for line in self.get_lines(instance)),
            Decimal("0"),
        )

    def get_currency(self, instance: Any) -> str:
        from omnichannel.conf import app_settings

        return getattr(instance, "currency", "") or app_settings.DEFAULT_CURRENCY

    def get_updated_at(self, instance: Any) -> datetime:
        return getattr(instance, "updated_at", None) or timezone.now()

    def is_converted(self, instance: Any) -> bool:
        return False

    def is_open(self, instance: Any) -> bool:
        """Tell whether the customer can still check this cart out."""
        return True

    def get_order_id(self, instance: Any) -> str:
        return ""

    def get_cart(self, cart_id: str) -> Any:
        """Return the cart whose ``get_cart_id`` is ``cart_id``, or None.

        The default looks the id up as a primary key; override it when
        ``get_cart_id`` returns something else.
        """
        try:
            return self.model._default_manager.filter(pk=cart_id).first()
        except (ValueError, ValidationError):
            return None

    def get_carts(self, cart_ids: Iterable[str]) -> dict[str, Any]:
        """Return the carts of ``cart_ids`` that exist, keyed by the requested id.

        The abandoned-cart scan calls it once per batch. The default reads all
        carts in one query, with their ``lines`` prefetched when the model has that
        relation and ``get_lines`` is not overridden, so reading the lines costs no
        further query. When
        ``get_cart`` is overridden, the default calls it once per id instead.
        Override it together with ``get_cart`` to read a batch at once.
        """
        cart_ids = list(dict.fromkeys(cart_ids))
        if type(self).get_cart is not CartAdapter.get_cart:
            found = {cart_id: self.get_cart(cart_id) for cart_id in cart_ids}
            return {key: cart for key, cart in found.items() if cart is not None}

        primary_key = self.model._meta.pk
        by_key: dict[Any, list[str]] = {}
        for cart_id in cart_ids:
            try:
                key = primary_key.to_python(cart_id)
            except (ValueError, ValidationError):
                continue
            by_key.setdefault(key, []).append(cart_id)
        if not by_key:
            return {}
        queryset = self.model._default_manager.filter(pk__in=list(by_key))
        reads_lines = type(self).get_lines is ShopAdapter.get_lines
        if reads_lines and _has_relation(self.model, "lines"):
            queryset = queryset.prefetch_related("lines")
        carts: dict[str, Any] = {}
        for cart in queryset:
            for cart_id in by_key.get(cart.pk, []):
                carts[cart_id] = cart
        return carts

    def is_abandonable(self, instance: Any) -> bool:
        """Tell whether the cart still counts as abandoned when it goes quiet.

        The default: it is open, not converted and has lines. It calls only
        ``is_open``, ``is_converted`` and ``get_lines``, so the scan skips the
        reads of total, currency and order that ``read`` makes.
        """
        if not self.is_open(instance) or self.is_converted(instance):
            return False
        return bool(self.get_lines(instance))


def _has_relation(model: Any, name: str) -> bool:
    """Tell whether ``model`` has a to-many relation called ``name``."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return bool(field.is_relation and (field.one_to_many or field.many_to_many))
