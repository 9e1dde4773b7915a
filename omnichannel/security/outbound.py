"""The guard on outbound webhook URLs, so that a configured or stored URL cannot
make the server call its own network (server-side request forgery).

A URL is allowed when it is http(s) and every address its host resolves to is a
public address. Private (RFC 1918, fc00::/7), loopback, link-local (where cloud
metadata services listen, at 169.254.169.254), multicast, reserved and unspecified
addresses are rejected unless ``WEBHOOK_ALLOWED_HOSTS`` lists the host name, the
address or a network containing it. Redirects are followed by :func:`guarded_request`
one hop at a time, and each hop is checked the same way.

The check is made twice: once on the URL, for a clear error before anything is sent,
and again when the connection opens, on the addresses that connection uses. A host
name is resolved once for each connection, its addresses are checked, and the socket
connects to one of those checked addresses, so a DNS server that answers with a
public address for the first lookup and a private one for the next (DNS rebinding)
gains nothing. :func:`guarded_session` gives a requests session that does this.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

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
    _check_addresses(url, addresses, networks)


def _check_addresses(url: str, addresses: list[IPAddress], networks: list[Any]) -> None:
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


def checked_addresses(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses; raise UnsafeURL if any of
    them may not be reached (unless WEBHOOK_ALLOWED_HOSTS lists the host)."""
    host = host.strip("[]").lower()
    addresses = resolve(host, port)
    names, networks = _allowed_entries()
    if host.rstrip(".") not in names:
        _check_addresses(f"{host}:{port}", addresses, networks)
    return addresses


class _CheckedConnectionMixin:
    """Open the socket to an address that was checked in the same lookup."""

    _dns_host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        error: OSError | None = None
        for address in checked_addresses(self._dns_host, self.port):
            try:
                return create_connection(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as timeout:
                raise ConnectTimeoutError(
                    self,
                    f"Connection to {self._dns_host} timed out. "
                    f"(connect timeout={self.timeout})",
                ) from timeout
            except OSError as failure:
                error = failure
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    """A transport adapter whose connections check their addresses on opening."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": CheckedHTTPConnectionPool,
            "https": CheckedHTTPSConnectionPool,
        }


def guarded_session() -> requests.Session:
    """Return a requests session whose connections only reach checked addresses.

    Proxy settings from the environment are ignored: through a proxy the server
    would connect to the proxy, and the target's address could not be checked.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = CheckedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def guarded_request(
    session: requests.Session, method: str, url: str, **kwargs: Any
) -> requests.Response:
    """Send a request after checking its URL, and follow at most MAX_REDIRECTS
    redirects, checking each target; raise UnsafeURL for a refused URL.

    Pass a session from :func:`guarded_session`, whose connections check the
    addresses they connect to; with another session, a DNS server that changes its
    answer between the check and the connection (DNS rebinding) is not stopped.
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
