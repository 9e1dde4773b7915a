"""Normalise identifiers so that one person gets one key per email and phone number."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from omnichannel.conf import app_settings
from omnichannel.exceptions import InvalidIdentifier

# The United Kingdom reserves 07700 900000-900999 for drama and documentation.
# phonenumbers reports them as not valid, so they are accepted when possible.
_FICTIONAL_RANGES = (("44", "7700900"),)


def normalise_email(value: str) -> str:
    """Return the email address trimmed and lower-cased, or raise InvalidIdentifier."""
    if not isinstance(value, str):
        raise InvalidIdentifier("email", "must be a string.")
    email = value.strip().lower()
    if not email:
        raise InvalidIdentifier("email", "is empty.")
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidIdentifier(
            "email", f"{value!r} is not a valid email address."
        ) from None
    if is_blocked(email):
        raise InvalidIdentifier(
            "email",
            f"{email!r} is a placeholder address and cannot identify a customer.",
        )
    return email


def normalise_phone(value: str, region: str | None = None) -> str:
    """Return the phone number in E.164 form, or raise InvalidIdentifier.

    National numbers need a region: ``region`` or the ``DEFAULT_PHONE_REGION`` setting.
    A leading ``00`` is read as the international prefix.
    """
    if not isinstance(value, str):
        raise InvalidIdentifier("phone", "must be a string.")
    raw = value.strip()
    if not raw:
        raise InvalidIdentifier("phone", "is empty.")
    compact = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    if compact.startswith("00"):
        raw = "+" + compact[2:]
    region = region or app_settings.DEFAULT_PHONE_REGION
    if not raw.startswith("+") and region is None:
        if _looks_international(compact):
            raw = "+" + compact
        else:
            raise InvalidIdentifier(
                "phone",
                f"{value!r} has no country code and "
                "OMNICHANNEL['DEFAULT_PHONE_REGION'] is not set. Give the number "
                "in international form (+44...) or set the default region.",
            )
    elif not raw.startswith("+") and _looks_international(compact, region):
        raw = "+" + compact
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("phone", f"{value!r} is not a phone number.") from None
    if not (phonenumbers.is_valid_number(number) or _is_fictional(number)):
        raise InvalidIdentifier(
            "phone",
            f"{value!r} is not a valid phone number for region "
            f"{phonenumbers.region_code_for_number(number) or region}.",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _looks_international(digits: str, region: str | None = None) -> bool:
    """Tell whether bare digits already start with a country code (``447700900123``).

    Numbers with a national trunk prefix (a leading 0) are never read this way.
    """
    digits = digits.lstrip("+")
    if not digits or digits.startswith("0") or len(digits) < 10:
        return False
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return False
    if region is not None and phonenumbers.region_code_for_number(number) != region:
        # A national number of the default region wins over a guess.
        national = phonenumbers.parse(digits, region)
        if phonenumbers.is_valid_number(national):
            return False
    return phonenumbers.is_valid_number(number) or _is_fictional(number)


def _is_fictional(number: phonenumbers.PhoneNumber) -> bool:
    national = str(number.national_number)
    return any(
        str(number.country_code) == country and national.startswith(prefix)
        for country, prefix in _FICTIONAL_RANGES
    ) and phonenumbers.is_possible_number(number)


def is_blocked(value: str) -> bool:
    """Tell whether ``value`` is a placeholder that must never identify anyone."""
    return value.strip().lower() in _blocked(tuple(app_settings.BLOCKED_IDENTIFIERS))


@lru_cache(maxsize=8)
def _blocked(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(item.strip().lower() for item in values)
