"""Links inside messages: UTM tags, signed tracking tokens and SMS short links."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from functools import lru_cache
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_urlconf, reverse
from django.utils.crypto import salted_hmac

from omnichannel.conf import app_settings

OPEN_SALT = "omnichannel.channels.open"
CLICK_SALT = "omnichannel.channels.click"
SHORT_SALT = "omnichannel.channels.short"
# A short code is 6 random characters and a 4-character signature of them.
SHORT_RANDOM_LENGTH = 6
SHORT_SIGNATURE_LENGTH = 4
SHORT_CODE_LENGTH = SHORT_RANDOM_LENGTH + SHORT_SIGNATURE_LENGTH

HREF_PATTERN = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.I
)
# A link attribute with its quoted value, for neutralise_script_links.
LINK_ATTRIBUTE_PATTERN = re.compile(
    r"""(\b(?:href|src|action|formaction|xlink:href)\s*=\s*)(["'])(.*?)\2""",
    re.I | re.S,
)
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
TEXT_URL_PATTERN = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")


def site_url() -> str:
    return app_settings.SITE_URL.rstrip("/")


def absolute_url(path: str) -> str:
    return site_url() + path


def _utm_hosts() -> set[str]:
    hosts = {urlsplit(site_url()).hostname or ""}
    hosts.update(host.lower() for host in app_settings.UTM_DOMAINS)
    return hosts


def utm_settings() -> tuple[frozenset[str], str]:
    """Return the hosts whose links get UTM tags, and the ``utm_source`` value."""
    return frozenset(_utm_hosts()), app_settings.UTM_SOURCE


def add_utm(
    url: str,
    *,
    medium: str,
    campaign: str,
    content: str = "",
    settings: tuple[frozenset[str], str] | None = None,
) -> str:
    """Return ``url`` with UTM tags when it points at the shop; keep existing tags.

    ``settings`` is the value of ``utm_settings()``, passed by callers that tag
    many links so that the settings are read once.
    """
    hosts, source = settings or utm_settings()
    return _add_utm(url, medium, campaign, content, hosts, source)


@lru_cache(maxsize=8192)
def _add_utm(
    url: str,
    medium: str,
    campaign: str,
    content: str,
    hosts: frozenset[str],
    source: str,
) -> str:
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in hosts:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _value in query}
    tags = {
        "utm_source": source,
        "utm_medium": medium,
        "utm_campaign": campaign,
    }
    if content:
        tags["utm_content"] = content
    query += [(key, value) for key, value in tags.items() if key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _BatchSigner(signing.Signer):
    """A Signer whose signatures equal ``Signer``'s, with the derived HMAC key
    computed once instead of on every link of every message."""

    def __init__(self, *, key: str, salt: str) -> None:
        super().__init__(key=key, salt=salt)
        self._mac = salted_hmac(
            self.salt + "signer", b"", key, algorithm=self.algorithm
        )

    def signature(self, value: str | bytes, key: Any = None) -> str:
        if key is not None and key != self.key:
            return super().signature(value, key)
        mac = self._mac.copy()
        mac.update(value.encode() if isinstance(value, str) else value)
        return signing.b64_encode(mac.digest()).decode()


@lru_cache(maxsize=8)
def _signer(salt: str, secret_key: str) -> signing.Signer:
    # Tokens carry no timestamp: links in old emails keep working.
    return _BatchSigner(key=secret_key, salt=salt)


def _signer_for(salt: str) -> signing.Signer:
    from django.conf import settings

    return _signer(salt, settings.SECRET_KEY)


def open_token(delivery_id: int) -> str:
    return _signer_for(OPEN_SALT).sign_object(delivery_id)


def click_token(delivery_id: int, url: str) -> str:
    return _signer_for(CLICK_SALT).sign_object([delivery_id, url])


def _unsign(token: str, salt: str) -> Any:
    from django.conf import settings

    signer = signing.Signer(
        key=settings.SECRET_KEY,
        salt=salt,
        fallback_keys=settings.SECRET_KEY_FALLBACKS,
    )
    return signer.unsign_object(token)


def read_open_token(token: str) -> int:
    """Return the delivery id of an open token; raise BadSignature if forged."""
    value = _unsign(token, OPEN_SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("open token does not hold a delivery id")
    return value


def read_click_token(token: str) -> tuple[int, str]:
    """Return the delivery id and target of a click token; raise BadSignature."""
    value = _unsign(token, CLICK_SALT)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
        or not value[1].startswith(("http://", "https://"))
    ):
        raise signing.BadSignature("click token does not hold a delivery and a URL")
    return value[0], value[1]


PLACEHOLDER = "TOKEN"


@lru_cache(maxsize=32)
def _url_parts(name: str, site: str, urlconf: Any) -> tuple[str, str]:
    path = reverse(name, args=[PLACEHOLDER])
    before, _sep, after = path.partition(PLACEHOLDER)
    return site + before, after


def _url_with_token(name: str, token: str, site: str | None = None) -> str:
    # reverse() is slow next to the rest of rendering, so each route is reversed
    # once per site address and URLconf and the token is put in its place.
    before, after = _url_parts(name, site or site_url(), get_urlconf())
    return f"{before}{token}{after}"


def click_url(delivery_id: int, url: str, *, site: str | None = None) -> str:
    """Return the tracked redirect to ``url``; ``site`` defaults to SITE_URL."""
    token = click_token(delivery_id, url)
    return _url_with_token("omnichannel:track-click", token, site)


def open_pixel_url(delivery_id: int) -> str:
    return _url_with_token("omnichannel:track-open", open_token(delivery_id))


def rewrite_html_links(html: str, rewrite: Callable[[str], str]) -> str:
    """Apply ``rewrite`` to the target of every absolute http(s) ``<a href>``."""

    def replace(match: re.Match[str]) -> str:
        prefix, quote, url = match.groups()
        url = url.replace("&amp;", "&")
        new_url = rewrite(url).replace("&", "&amp;")
        return f"{prefix}{quote}{new_url}{quote}"

    return HREF_PATTERN.sub(replace, html)


def neutralise_script_links(html: str) -> str:
    """Replace link targets that run script (``javascript:``, ``vbscript:``,
    ``data:text/html``) by ``#``, however a template variable spelled them."""

    def replace(match: re.Match[str]) -> str:
        prefix, quote, value = match.groups()
        # Browsers ignore entities, whitespace and control characters in a scheme.
        plain = "".join(ch for ch in unescape(value) if ch > " ").lower()
        if plain.startswith(SCRIPT_SCHEMES):
            return f"{prefix}{quote}#{quote}"
        return match.group(0)

    return LINK_ATTRIBUTE_PATTERN.sub(replace, html)


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


def _short_signature(random_part: str) -> str:
    signature = _signer_for(SHORT_SALT).signature(random_part)
    return signature[:SHORT_SIGNATURE_LENGTH]


def new_short_code() -> str:
    """Return a new short-link code: random characters and their signature."""
    random_part = secrets.token_urlsafe(SHORT_RANDOM_LENGTH)[:SHORT_RANDOM_LENGTH]
    return random_part + _short_signature(random_part)


def is_signed_short_code(code: str) -> bool:
    """Tell whether ``code`` was made by ``new_short_code`` with this SECRET_KEY."""
    if len(code) != SHORT_CODE_LENGTH:
        return False
    random_part = code[:SHORT_RANDOM_LENGTH]
    return secrets.compare_digest(
        code[SHORT_RANDOM_LENGTH:], _short_signature(random_part)
    )


def short_url(code: str) -> str:
    return absolute_url(reverse("omnichannel:short-link", args=[code]))


def short_url_length() -> int:
    """Return the length of every short link under the current ``SITE_URL``."""
    return len(short_url("x" * SHORT_CODE_LENGTH))


@receiver(setting_changed)
def _clear_caches(*, setting: str, **kwargs: Any) -> None:
    if setting in ("OMNICHANNEL", "ROOT_URLCONF", "SECRET_KEY"):
        _url_parts.cache_clear()
        _signer.cache_clear()
