"""The contract an adapter meets, checked in code.

The registry checks every value an adapter returns before it records anything, so a
wrong type fails with an error that names the adapter and the field instead of a
database error deep inside ``track()``. The same checks back the test kit in
``omnichannel.integrations.testing``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from omnichannel.exceptions import AdapterError, InvalidDiscountCode
from omnichannel.integrations.base import CartData, Customer, Line, OrderData

# Event.object_id is a CharField(max_length=64); ids of orders and carts must fit it.
MAX_ID_LENGTH = 64
MAX_CODE_LENGTH = 40


def check_order_data(data: Any, adapter: Any = None) -> OrderData:
    """Return ``data`` if it is a well-formed OrderData, or raise AdapterError."""
    where = _where(adapter, "read")
    if not isinstance(data, OrderData):
        raise AdapterError(
            f"{where} returned {type(data).__name__}; expected OrderData."
        )
    _check_id(data.order_id, f"{where}.order_id", required=True)
    _check_id(data.cart_id, f"{where}.cart_id", required=False)
    _check_customer(data.customer, f"{where}.customer")
    _check_amount(data.total, f"{where}.total")
    _check_currency(data.currency, f"{where}.currency")
    _check_aware(data.created_at, f"{where}.created_at")
    _check_lines(data.lines, f"{where}.lines")
    if not isinstance(data.discount_codes, list) or not all(
        isinstance(code, str) and code for code in data.discount_codes
    ):
        raise AdapterError(
            f"{where}.discount_codes must be a list of non-empty strings, got "
            f"{data.discount_codes!r}."
        )
    _check_flags(data, ("is_placed", "is_cancelled", "is_refunded", "is_paid"), where)
    return data


def check_cart_data(data: Any, adapter: Any = None) -> CartData:
    """Return ``data`` if it is a well-formed CartData, or raise AdapterError."""
    where = _where(adapter, "read")
    if not isinstance(data, CartData):
        raise AdapterError(
            f"{where} returned {type(data).__name__}; expected CartData."
        )
    _check_id(data.cart_id, f"{where}.cart_id", required=True)
    _check_id(data.order_id, f"{where}.order_id", required=False)
    _check_customer(data.customer, f"{where}.customer")
    _check_amount(data.total, f"{where}.total")
    _check_currency(data.currency, f"{where}.currency")
    _check_aware(data.updated_at, f"{where}.updated_at")
    _check_lines(data.lines, f"{where}.lines")
    _check_flags(data, ("is_converted", "is_open"), where)
    return data


def _where(adapter: Any, method: str) -> str:
    if adapter is None:
        return method + "()"
    return f"{type(adapter).__qualname__}.{method}()"


def _check_id(value: Any, where: str, *, required: bool) -> None:
    if not isinstance(value, str):
        raise AdapterError(f"{where} must be a str, got {type(value).__name__}.")
    if required and not value:
        raise AdapterError(f"{where} must not be empty.")
    if len(value) > MAX_ID_LENGTH:
        raise AdapterError(
            f"{where} is {len(value)} characters; the maximum is {MAX_ID_LENGTH}."
        )


def _check_customer(customer: Any, where: str) -> None:
    if not isinstance(customer, Customer):
        raise AdapterError(
            f"{where} must be a Customer, got {type(customer).__name__}."
        )
    for field in fields(Customer):
        if field.name == "user":
            continue
        value = getattr(customer, field.name)
        if not isinstance(value, str):
            raise AdapterError(
                f"{where}.{field.name} must be a str (empty when unknown), got "
                f"{type(value).__name__}."
            )


def _check_amount(value: Any, where: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise AdapterError(f"{where} must be a finite Decimal, got {value!r}.")
    if value < 0:
        raise AdapterError(f"{where} must not be negative, got {value}.")


def _check_currency(value: Any, where: str) -> None:
    if not (isinstance(value, str) and len(value) == 3 and value.isupper()):
        raise AdapterError(
            f"{where} must be an ISO 4217 code such as 'EUR', got {value!r}."
        )


def _check_aware(value: Any, where: str) -> None:
    if not isinstance(value, datetime):
        raise AdapterError(f"{where} must be a datetime, got {type(value).__name__}.")
    if timezone.is_naive(value):
        raise AdapterError(f"{where} must be timezone-aware.")


def _check_lines(lines: Any, where: str) -> None:
    if not isinstance(lines, list):
        raise AdapterError(f"{where} must be a list, got {type(lines).__name__}.")
    for index, line in enumerate(lines):
        at = f"{where}[{index}]"
        if not isinstance(line, Line):
            raise AdapterError(f"{at} must be a Line, got {type(line).__name__}.")
        if not isinstance(line.sku, str) or not isinstance(line.name, str):
            raise AdapterError(f"{at}.sku and .name must be str.")
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
            raise AdapterError(f"{at}.quantity must be an int, got {line.quantity!r}.")
        if line.quantity < 0:
            raise AdapterError(f"{at}.quantity must not be negative.")
        _check_amount(line.unit_price, f"{at}.unit_price")
        if not isinstance(line.category, str):
            raise AdapterError(f"{at}.category must be a str.")


def _check_flags(data: Any, names: tuple[str, ...], where: str) -> None:
    for name in names:
        if not isinstance(getattr(data, name), bool):
            raise AdapterError(f"{where}.{name} must be a bool.")


class DiscountKind(enum.StrEnum):
    """Kind of reduction a discount code gives."""

    PERCENT = "percent"
    AMOUNT = "amount"
    FREE_SHIPPING = "free_shipping"


@dataclass(frozen=True)
class DiscountCodeRequest:
    """Checked arguments of ``ShopAdapter.create_discount_code``."""

    code: str
    kind: DiscountKind
    value: Decimal
    valid_until: datetime | None
    single_use: bool


def clean_discount_code_request(
    *,
    code: Any,
    kind: Any,
    value: Any,
    valid_until: Any,
    single_use: Any,
    now: datetime | None = None,
) -> DiscountCodeRequest:
    """Check the arguments of a discount code; raise InvalidDiscountCode on a bad one.

    The code is stripped but keeps its letter case. A percent value lies in
    (0, 100], an amount is positive, and a free-shipping value is ignored and
    stored as 0.
    """
    if not isinstance(code, str) or not code.strip():
        raise InvalidDiscountCode("code", "must be a non-empty string.")
    code = code.strip()
    if len(code) > MAX_CODE_LENGTH or any(char.isspace() for char in code):
        raise InvalidDiscountCode(
            "code",
            f"must be at most {MAX_CODE_LENGTH} characters without spaces, got "
            f"{code!r}.",
        )
    try:
        kind = DiscountKind(kind)
    except ValueError:
        choices = ", ".join(repr(choice.value) for choice in DiscountKind)
        raise InvalidDiscountCode(
            "kind", f"{kind!r} is not a discount kind; use one of {choices}."
        ) from None
    amount = _clean_value(kind, value)
    if valid_until is not None:
        if not isinstance(valid_until, datetime) or timezone.is_naive(valid_until):
            raise InvalidDiscountCode(
                "valid_until", "must be a timezone-aware datetime or None."
            )
        if valid_until <= (now or timezone.now()):
            raise InvalidDiscountCode(
                "valid_until", f"{valid_until.isoformat()} is in the past."
            )
    if not isinstance(single_use, bool):
        raise InvalidDiscountCode("single_use", "must be True or False.")
    return DiscountCodeRequest(
        code=code,
        kind=kind,
        value=amount,
        valid_until=valid_until,
        single_use=single_use,
    )


def _clean_value(kind: DiscountKind, value: Any) -> Decimal:
    if kind is DiscountKind.FREE_SHIPPING:
        return Decimal("0")
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidDiscountCode(
            "value", f"must be a Decimal, an int or a numeric string, got {value!r}."
        )
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise InvalidDiscountCode("value", f"{value!r} is not a number.") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidDiscountCode("value", f"must be positive, got {value!r}.")
    if kind is DiscountKind.PERCENT and amount > 100:
        raise InvalidDiscountCode(
            "value", f"a percent discount is at most 100, got {amount}."
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidDiscountCode(
            "value", f"must have at most two decimal places, got {amount}."
        )
    return amount
