"""Plain-text version of an HTML email, for its text/plain part."""

from __future__ import annotations

import html
import re

HIDDEN = re.compile(
    r"<(head|style|script|title)\b.*?</\1\s*>"
    r"|<(div|span)\b[^>]*display\s*:\s*none[^>]*>.*?</\2\s*>",
    re.I | re.S,
)
LINK = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*(["'])(https?://[^"']+)\1[^>]*>(.*?)</a\s*>""",
    re.I | re.S,
)
LIST_ITEM = re.compile(r"<li\b[^>]*>", re.I)
BLOCK = re.compile(
    r"</?(p|div|br|tr|table|h[1-6]|hr|ul|ol|li|blockquote)\b[^>]*>", re.I
)
TAG = re.compile(r"<[^>]+>")
SPACES = re.compile(r"[ \t\r\f\v]+")
BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


def _link(match: re.Match[str]) -> str:
    href = match.group(2)
    label = TAG.sub("", match.group(3)).strip()
    return f"{label} ({href})" if label else href


def html_to_text(markup: str) -> str:
    """Return readable plain text of ``markup``; links keep their address.

    Hidden blocks (``display:none``, such as a preheader) and the document head
    are left out. Regular expressions instead of a parser keep this fast enough
    to run once per recipient; nested hidden elements are not supported.
    """
    text = HIDDEN.sub("", markup)
    text = LINK.sub(_link, text)
    text = LIST_ITEM.sub("\n- ", text)
    text = BLOCK.sub("\n", text)
    text = html.unescape(TAG.sub("", text))
    text = SPACES.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
