"""Links inside messages: UTM tags, signed tracking tokens and SMS short links."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.urls import reverse

from omnichannel.conf import app_settings

OPEN_SALT = "omnichannel.channels.open"
CLICK_SALT = "omnichannel.channels.click"
SHORT_CODE_LENGTH = 8

HREF_PATTERN = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.I
)
TEXT_URL_PATTERN = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")


def site_url() -> str:
    return app_settings.SITE_URL.rstrip("/")


def absolute_url(path: str) -> str:
    return site_url() + path


def _utm_hosts() -> set[str]:
    hosts = {urlsplit(site_url()).hostname or ""}
    hosts.update(host.lower() for host in app_settings.UTM_DOMAINS)
    return hosts


def add_utm(url: str, *, medium: str, campaign: str, content: str = "") -> str:
    """Return ``url`` with UTM tags when it points at the shop; keep existing tags."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in _utm_hosts():
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _value in query}
    tags = {
        "utm_source": app_settings.UTM_SOURCE,
        "utm_medium": medium,
        "utm_campaign": campaign,
    }
    if content:
        tags["utm_content"] = content
    query += [(key, value) for key, value in tags.items() if key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def open_token(delivery_id: int) -> str:
    return signing.dumps(delivery_id, salt=OPEN_SALT)


def click_token(delivery_id: int, url: str) -> str:
    return signing.dumps([delivery_id, url], salt=CLICK_SALT, compress=True)


def read_open_token(token: str) -> int:
    """Return the delivery id of an open token; raise BadSignature if forged."""
    value = signing.loads(token, salt=OPEN_SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("open token does not hold a delivery id")
    return value


def read_click_token(token: str) -> tuple[int, str]:
    """Return the delivery id and target of a click token; raise BadSignature."""
    value = signing.loads(token, salt=CLICK_SALT)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
        or not value[1].startswith(("http://", "https://"))
    ):
        raise signing.BadSignature("click token does not hold a delivery and a URL")
    return value[0], value[1]


def click_url(delivery_id: int, url: str) -> str:
    path = reverse("omnichannel:track-click", args=[click_token(delivery_id, url)])
    return absolute_url(path)


def open_pixel_url(delivery_id: int) -> str:
    path = reverse("omnichannel:track-open", args=[open_token(delivery_id)])
    return absolute_url(path)


def rewrite_html_links(html: str, rewrite: Callable[[str], str]) -> str:
    """Apply ``rewrite`` to the target of every absolute http(s) ``<a href>``."""

    def replace(match: re.Match[str]) -> str:
        prefix, quote, url = match.groups()
        url = url.replace("&amp;", "&")
        new_url = rewrite(url).replace("&", "&amp;")
        return f"{prefix}{quote}{new_url}{quote}"

    return HREF_PATTERN.sub(replace, html)


def rewrite_text_links(text: str, rewrite: Callable[[str], str]) -> str:
    """Apply ``rewrite`` to every absolute http(s) URL in plain text."""
    return TEXT_URL_PATTERN.sub(lambda match: rewrite(match.group(0)), text)


def insert_open_pixel(html: str, delivery_id: int) -> str:
    pixel = (
        f'<img src="{open_pixel_url(delivery_id)}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px">'
    )
    index = html.lower().rfind("</body>")
    if index == -1:
        return html + pixel
    return html[:index] + pixel + html[index:]


def new_short_code() -> str:
    return secrets.token_urlsafe(SHORT_CODE_LENGTH)[:SHORT_CODE_LENGTH]


def short_url(code: str) -> str:
    return absolute_url(reverse("omnichannel:short-link", args=[code]))


def short_url_length() -> int:
    """Return the length of every short link under the current ``SITE_URL``."""
    return len(short_url("x" * SHORT_CODE_LENGTH))
