"""Normalise identifiers the way each ad platform documents, then hash them.

Raw identifiers never leave the app: platform clients receive only the SHA-256 hex
digests that these functions return.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from omnichannel.exceptions import InvalidIdentifier
from omnichannel.profiles.normalise import normalise_phone

GOOGLE_MAIL_DOMAINS = ("gmail.com", "googlemail.com")
_WHITESPACE = re.compile(r"\s+")
_COUNTRY = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class Contact:
    """The raw identifiers of one profile, read from the database for hashing."""

    profile_id: int
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    country: str = ""


def sha256_hex(value: str) -> str:
    """Return the lower-case hex SHA-256 digest of ``value`` encoded as UTF-8."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(value: str) -> str:
    """Return the address with all whitespace removed and lower-cased.

    Both platforms document this much; Google adds the Gmail rule in
    :func:`normalise_email_for_google`.
    """
    email = _WHITESPACE.sub("", value or "").lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain:
        raise InvalidIdentifier("email", "is not an email address.")
    return email


def normalise_email_for_google(value: str) -> str:
    """Return the address normalised as Google's Data Manager API requires.

    For gmail.com and googlemail.com addresses, the dots in the local part and a
    ``+tag`` suffix are removed, because Gmail delivers all those forms to one inbox.
    Other domains keep their dots and plus signs.
    """
    email = normalise_email(value)
    local, _, domain = email.rpartition("@")
    if domain in GOOGLE_MAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise InvalidIdentifier("email", "has an empty Gmail local part.")
    return f"{local}@{domain}"


def normalise_phone_e164(value: str, region: str | None = None) -> str:
    """Return the number in E.164 form (``+447700900123``).

    A national number (``07700 900123``) needs ``region``, the profile's country or
    the ``DEFAULT_PHONE_REGION`` setting; otherwise InvalidIdentifier is raised.
    """
    return normalise_phone(value, region)


def phone_digits(e164: str) -> str:
    """Return an E.164 number without its plus sign: country code and digits only."""
    return e164.lstrip("+")


def normalise_name(value: str) -> str:
    """Return the name lower-cased, with only its letters kept.

    Spaces, punctuation and digits are dropped, and letters outside a-z (``ë``) stay,
    composed to one code point (Unicode NFC) so that both spellings hash alike.
    """
    text = unicodedata.normalize("NFC", value or "").lower()
    return "".join(ch for ch in text if unicodedata.category(ch).startswith("L"))


def normalise_country(value: str) -> str:
    """Return an ISO 3166-1 alpha-2 code in lower case, or raise InvalidIdentifier."""
    code = (value or "").strip().lower()
    if not _COUNTRY.match(code):
        raise InvalidIdentifier("country", f"{value!r} is not a two-letter code.")
    return code
