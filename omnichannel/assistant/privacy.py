"""Masking of personal data before text leaves for a model or an MCP client.

Emails and phone numbers are found by pattern. Names and addresses have no pattern,
so callers pass the values they know (a profile's names, a shipping address) as
``known``. With ``SEND_CUSTOMER_DATA`` on, nothing is masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from omnichannel.assistant.settings import setting

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, optionally led by "+" and split by spaces, dots, dashes or
# brackets: phone numbers, but not order numbers of up to six digits.
PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().-]*\d){6,}")
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
NAME_MASK = "[name]"
# Profile fields that hold personal data, masked in MCP answers.
PERSONAL_FIELDS = ("email", "phone", "name", "first_name", "last_name", "address")


def sends_customer_data() -> bool:
    return bool(setting("SEND_CUSTOMER_DATA"))


def mask_text(text: str, known: Iterable[str] = (), *, patterns: bool = True) -> str:
    """Replace emails, phone numbers and the ``known`` values in ``text``.

    With ``patterns`` off only the ``known`` values are replaced, for text the shop
    wrote, whose own contact addresses must reach the customer.
    """
    if sends_customer_data():
        return text
    masked = text
    if patterns:
        masked = EMAIL.sub(EMAIL_MASK, masked)
        masked = PHONE.sub(PHONE_MASK, masked)
    # Longer values first, so "Ann Lee" is masked whole before "Ann".
    for value in sorted({v.strip() for v in known if v and v.strip()}, key=len)[::-1]:
        if len(value) < 2:
            continue
        masked = re.sub(
            rf"(?<!\w){re.escape(value)}(?!\w)", NAME_MASK, masked, flags=re.I
        )
    return masked


def mask_email(value: str) -> str:
    """Keep the first character and the domain: ``a***@example.com``."""
    local, at, domain = value.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_value(field: str, value: Any) -> Any:
    """Mask one personal field's value, keeping whether it was empty."""
    if not value or sends_customer_data():
        return value
    if field == "email":
        return mask_email(str(value))
    if field == "phone":
        text = str(value)
        return f"***{text[-2:]}" if len(text) > 4 else "***"
    if isinstance(value, str):
        return f"{value[:1]}***"
    return "***"


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``record`` with its personal fields masked."""
    return {
        key: mask_value(key, value) if key in PERSONAL_FIELDS else value
        for key, value in record.items()
    }
