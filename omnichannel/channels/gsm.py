"""SMS encoding and segment counts, as networks count them.

A message that fits the GSM 03.38 7-bit alphabet is sent as GSM-7: 160 septets in
one segment, or 153 per segment once split, because the concatenation header takes
the rest. Characters of the extension table (``{ } [ ] ~ \\ | ^ €`` and form feed)
take two septets each. Any other character forces UCS-2: 70 UTF-16 code units in one
segment, 67 per segment once split; a character outside the Basic Multilingual Plane
(most emoji) takes two code units. A split never cuts an escape pair or a surrogate
pair, so a segment may carry one unit less than its maximum.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7 = "gsm7"
UCS2 = "ucs2"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS = {
    GSM7: (160, 153),
    UCS2: (70, 67),
}

# Replacements for common characters outside GSM-7, used before falling back to
# stripping accents.
TRANSLITERATIONS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2022": "-",
    "\u00ab": '"',
    "\u00bb": '"',
    "\u00e7": "c",
    "\u0153": "oe",
    "\u0152": "OE",
}


@dataclass(frozen=True)
class SMSInfo:
    """How a text travels as SMS: its encoding, length in units, and segments."""

    encoding: str
    units: int
    segments: int

    @property
    def per_segment(self) -> int:
        single, multi = LIMITS[self.encoding]
        return single if self.segments <= 1 else multi


def is_gsm7(text: str) -> bool:
    """Tell whether every character of ``text`` has a GSM-7 encoding."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _unit_lengths(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def split_segments(text: str) -> list[str]:
    """Split ``text`` into the parts a network sends as separate segments."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    lengths = _unit_lengths(text, encoding)
    single, multi = LIMITS[encoding]
    if sum(lengths) <= single:
        return [text] if text else []
    parts: list[str] = []
    start = used = 0
    for index, length in enumerate(lengths):
        if used + length > multi:
            parts.append(text[start:index])
            start, used = index, 0
        used += length
    parts.append(text[start:])
    return parts


def sms_info(text: str) -> SMSInfo:
    """Return the encoding, unit count and segment count of ``text``."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = sum(_unit_lengths(text, encoding))
    return SMSInfo(encoding=encoding, units=units, segments=len(split_segments(text)))


def transliterate(text: str) -> str:
    """Replace characters outside GSM-7 with their closest GSM-7 spelling.

    Accented letters that GSM-7 lacks lose their accent (``ë`` becomes ``e``);
    characters with no GSM-7 spelling at all, such as emoji, are dropped together
    with one space before them.
    """
    result: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            result.append(char)
            continue
        if char in TRANSLITERATIONS:
            result.append(TRANSLITERATIONS[char])
            continue
        base = "".join(
            part
            for part in unicodedata.normalize("NFKD", char)
            if not unicodedata.combining(part)
        )
        if base and is_gsm7(base):
            result.append(base)
        elif result and result[-1] == " ":
            result.pop()
    return "".join(result)
