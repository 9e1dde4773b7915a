"""Generating offer codes that are hard to guess and unique across all offers."""

from __future__ import annotations

import math
import secrets

from omnichannel.conf import app_settings

# Capital letters and digits without 0, O, 1 and I, which customers mix up when they
# type a code from a printed voucher or a phone screen: 32 symbols, 5 bits each.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_CODE_LENGTH = 40
# Attempts at drawing a batch of codes that no stored code uses.
ATTEMPTS = 5
# Codes looked up per query, below SQLite's limit of query parameters.
LOOKUP_CHUNK = 900


def normalise_code(code: str) -> str:
    """Return ``code`` as codes are stored: trimmed and in capitals."""
    return str(code).strip().upper()


def random_part(length: int | None = None) -> str:
    """Return ``length`` symbols of ALPHABET drawn by the ``secrets`` generator."""
    length = length or app_settings.OFFER_CODE_LENGTH
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def make_code(prefix: str = "", length: int | None = None) -> str:
    """Return one random code, ``PREFIX-XXXXXXXXXX`` or ``XXXXXXXXXX``."""
    body = random_part(length)
    return f"{prefix}-{body}" if prefix else body


def guess_probability(issued: int, length: int | None = None) -> float:
    """Return the chance that one random guess hits one of ``issued`` codes."""
    length = length or app_settings.OFFER_CODE_LENGTH
    return issued / math.pow(len(ALPHABET), length)


def unused_codes(count: int, prefix: str = "") -> list[str]:
    """Return ``count`` distinct new codes that no stored OfferCode uses.

    Candidates are drawn in one go and checked against the table in one query per
    LOOKUP_CHUNK codes. A clash (at the default length and with a million codes
    stored, about one draw in 10^9) is redrawn. A concurrent insert of the same code
    is still possible, so callers insert under the unique constraint and retry on
    IntegrityError.
    """
    from omnichannel.offers.models import OfferCode

    found: set[str] = set()
    for _attempt in range(ATTEMPTS):
        missing = count - len(found)
        if missing <= 0:
            break
        candidates = list({make_code(prefix) for _ in range(missing)} - found)
        taken: set[str] = set()
        for start in range(0, len(candidates), LOOKUP_CHUNK):
            chunk = candidates[start : start + LOOKUP_CHUNK]
            taken.update(
                OfferCode.objects.filter(code__in=chunk).values_list("code", flat=True)
            )
        found.update(code for code in candidates if code not in taken)
    if len(found) < count:
        raise RuntimeError(
            f"Could not draw {count} unused offer codes in {ATTEMPTS} attempts; "
            "raise OMNICHANNEL['OFFER_CODE_LENGTH']."
        )
    return list(found)
