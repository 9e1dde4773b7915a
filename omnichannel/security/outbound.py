"""The guard on outbound webhook URLs, so that a configured or stored URL cannot
make the server call its own network (server-side request forgery).

A URL is allowed when it is http(s) and every address its host resolves to is a
public address. Private (RFC 1918, fc00::/7), loopback, link-local (where cloud
metadata services listen, at 169.254.169.254), multicast, reserved and unspecified
addresses are rejected unless ``WEBHOOK_ALLOWED_HOSTS`` lists the host name, the
address or a network containing it. Redirects are followed by :func:`guarded_request`
one hop at a time, and each hop is checked the same way.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from omnichannel.conf import app_settings
from omnichannel.exceptions import OmnichannelError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class UnsafeURL(OmnichannelError, ValueError):
    """A URL that must not be requested: wrong scheme, no host, or a host that
    resolves to an address the server should not reach."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"The URL {url!r} is not allowed: {reason}")


def _allowed_entries() -> tuple[set[str], list[Any]]:
    names: set[str] = set()
    networks: list[Any] = []
    for entry in app_settings.WEBHOOK_ALLOWED_HOSTS or []:
        try:
            networks.append(ipaddress.ip_network(str(entry), strict=False))
        except ValueError:
            names.add(str(entry).lower().rstrip("."))
    return names, networks


def is_public_address(address: IPAddress) -> bool:
    """Tell whether ``address`` is a global unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[IPAddress]:
    """Return every address ``host`` resolves to, or raise UnsafeURL."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeURL(host, f"the host does not resolve ({error}).") from None
    # getaddrinfo may append a scope id ("fe80::1%eth0") to IPv6 addresses.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, *, resolve_host: bool = True) -> None:
    """Raise UnsafeURL unless ``url`` may be requested.

    With ``resolve_host=False`` only a literal address or ``localhost`` is
    checked, which suits validating a form without a DNS lookup.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise UnsafeURL(url, f"it is not a valid URL ({error}).") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(url, "only http and https URLs are allowed.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UnsafeURL(url, "it has no host.")
    if parts.username or parts.password:
        raise UnsafeURL(url, "credentials in the URL are not allowed; use HEADERS.")

    names, networks = _allowed_entries()
    if host in names:
        return
    if not resolve_host:
        if host == "localhost" or host.endswith(".localhost"):
            raise UnsafeURL(url, "it points at this server (localhost).")
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            return
    else:
        addresses = resolve(host, port)
    for address in addresses:
        if any(address in network for network in networks):
            continue
        if not is_public_address(address):
            raise UnsafeURL(
                url,
                f"its host resolves to {address}, a private, loopback, link-local "
                "or reserved address. Add the host to "
                "OMNICHANNEL['WEBHOOK_ALLOWED_HOSTS'] if it is the shop's own system.",
            )


def guarded_request(
    session: requests.Session, method: str, url: str, **kwargs: Any
) -> requests.Response:
    """Send a request after checking its URL, and follow at most MAX_REDIRECTS
    redirects, checking each target; raise UnsafeURL for a refused URL.

    NOTE: the host is resolved again when connecting, so a DNS server that changes
    its answer between the check and the connection (DNS rebinding) is not stopped.
    """
    kwargs["allow_redirects"] = False
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url)
        response = session.request(method, url, **kwargs)
        location = response.headers.get("Location")
        if response.status_code not in REDIRECT_STATUSES or not location:
            return response
        url = urljoin(url, location)
        if response.status_code == 303 or (
            response.status_code in (301, 302) and method == "POST"
        ):
            method = "GET"
            kwargs.pop("data", None)
            kwargs.pop("json", None)
        response.close()
    raise UnsafeURL(url, f"more than {MAX_REDIRECTS} redirects.")
