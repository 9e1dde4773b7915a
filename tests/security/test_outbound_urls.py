"""Webhook targets on private, loopback and link-local addresses are refused unless
WEBHOOK_ALLOWED_HOSTS lists them, and so is each redirect. Receivers are real HTTP
servers on 127.0.0.1."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from omnichannel.channels.backends.base import OutgoingMessage
from omnichannel.channels.backends.webhook import WebhookBackend
from omnichannel.channels.compose import RenderedMessage
from omnichannel.exceptions import ProviderError
from omnichannel.journeys.graph import InvalidGraph, validate_graph
from omnichannel.security.outbound import UnsafeURL, check_url

SECRET = "w" * 40


class Receiver:
    """An HTTP server that records requests and replies 200 or a redirect."""

    def __init__(self, redirect_to=None, status=307):
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                receiver.requests.append(
                    (self.command, self.path, self.rfile.read(length))
                )
                if redirect_to:
                    self.send_response(status)
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    started = []

    def start(**kwargs):
        receiver = Receiver(**kwargs)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def _send(url):
    backend = WebhookBackend(URL=url, SECRET=SECRET, TIMEOUT=5)
    message = OutgoingMessage(
        channel="webhook",
        to=[url],
        rendered=RenderedMessage(channel="webhook", subject="s", text="t"),
        delivery_id=1,
    )
    return backend.send(message)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "http://localhost:8000/hook",
        "http://LOCALHOST./hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_check_url_rejects_internal_address(url):
    with pytest.raises(UnsafeURL) as error:
        check_url(url)

    assert "OMNICHANNEL['WEBHOOK_ALLOWED_HOSTS']" in str(error.value)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:25/", "only http and https"),
        ("ftp://example.com/", "only http and https"),
        ("http:///hook", "no host"),
        ("http://user:pw@93.184.216.34/", "credentials"),
        ("http://[::1/hook", "not a valid URL"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_check_url_rejects_malformed_url(url, reason):
    with pytest.raises(UnsafeURL, match=reason):
        check_url(url)


def test_check_url_accepts_public_address():
    check_url("https://93.184.216.34/hook")
    check_url("http://[2606:4700:4700::1111]/hook")


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:9000/hook"),
        (["10.0.0.0/8"], "http://10.20.30.40/hook"),
        (["localhost"], "http://localhost/hook"),
        (["fd00::/8"], "http://[fd12::1]/hook"),
    ],
)
def test_allowed_hosts_admit_listed_internal_targets(settings, allowed, url):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "WEBHOOK_ALLOWED_HOSTS": allowed}

    check_url(url)


def test_allowed_address_admits_any_name_of_it(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "WEBHOOK_ALLOWED_HOSTS": ["::1"]}

    check_url("http://[::1]:9000/hook")
    with pytest.raises(UnsafeURL):
        check_url("http://127.0.0.1:9000/hook")


def test_allowed_network_does_not_admit_other_addresses(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["10.0.0.0/24"],
    }

    with pytest.raises(UnsafeURL):
        check_url("http://10.0.1.1/hook")


def test_webhook_to_loopback_refused_before_connecting(receivers):
    receiver = receivers()

    with pytest.raises(ProviderError) as error:
        _send(receiver.url)

    assert error.value.code == "unsafe_url"
    assert error.value.retryable is False
    assert receiver.requests == []


def test_webhook_to_listed_host_is_sent(receivers, settings):
    receiver = receivers()
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
    }

    result = _send(receiver.url)

    assert result.provider_message_id == "webhook-1"
    assert [request[:2] for request in receiver.requests] == [("POST", "/hook")]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_webhook_redirect_to_unlisted_host_refused(receivers, settings, status):
    inner = receivers()
    hop = receivers(redirect_to=f"http://[::1]:{inner.port}/internal", status=status)
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
    }

    with pytest.raises(ProviderError) as error:
        _send(hop.url)

    assert error.value.code == "unsafe_url"
    assert "::1" in str(error.value)
    assert len(hop.requests) == 1
    assert inner.requests == []


def test_webhook_redirect_to_metadata_service_refused(receivers, settings):
    hop = receivers(redirect_to="http://169.254.169.254/latest/meta-data/")
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
    }

    with pytest.raises(ProviderError, match="169.254.169.254"):
        _send(hop.url)


def test_webhook_redirect_loop_stops(receivers, settings):
    looping = receivers(redirect_to="/hook")
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
    }

    with pytest.raises(ProviderError, match="more than 3 redirects"):
        _send(looping.url)

    assert len(looping.requests) == 4


def test_webhook_redirect_to_listed_host_followed(receivers, settings):
    inner = receivers()
    hop = receivers(redirect_to=inner.url, status=308)
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
    }

    _send(hop.url)

    assert inner.requests[0][0] == "POST"
    assert inner.requests[0][2].startswith(b"{")


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/", "http://localhost/x", "http://[::1]/", "ftp://a.b/"],
)
def test_journey_webhook_step_rejects_internal_url(url):
    graph = {
        "start": "hook",
        "steps": {"hook": {"type": "webhook", "url": url}},
    }

    with pytest.raises(InvalidGraph) as error:
        validate_graph(graph)

    assert error.value.path.endswith("hook.url")


class RebindingResolver:
    """A resolver that answers a public address for the first lookup of ``name``
    and the loopback address for every later one, as in DNS rebinding."""

    def __init__(self, name, real_getaddrinfo):
        self.name = name
        self.real = real_getaddrinfo
        self.lookups = 0

    def __call__(self, host, port, *args, **kwargs):
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        address = "93.184.216.34" if self.lookups == 1 else "127.0.0.1"
        return self.real(address, port, *args, **kwargs)


def test_rebound_host_refused_on_connect(receivers, monkeypatch):
    import socket

    receiver = receivers()
    resolver = RebindingResolver("hooks.example.test", socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)

    with pytest.raises(ProviderError) as error:
        _send(f"http://hooks.example.test:{receiver.port}/hook")

    assert error.value.code == "unsafe_url"
    assert "127.0.0.1" in str(error.value)
    assert resolver.lookups == 2
    assert receiver.requests == []


def test_listed_host_keeps_host_header(receivers, settings, monkeypatch):
    import socket

    receiver = receivers()
    seen_hosts = []

    real = socket.getaddrinfo

    def resolve_to_loopback(host, port, *args, **kwargs):
        if host == "hooks.shop.test":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve_to_loopback)
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["hooks.shop.test"],
    }
    original_handle = receiver.server.RequestHandlerClass.do_POST

    def recording_post(handler):
        seen_hosts.append(handler.headers.get("Host"))
        original_handle(handler)

    receiver.server.RequestHandlerClass.do_POST = recording_post

    _send(f"http://hooks.shop.test:{receiver.port}/hook")

    assert [request[:2] for request in receiver.requests] == [("POST", "/hook")]
    assert seen_hosts == [f"hooks.shop.test:{receiver.port}"]


def test_webhook_ignores_environment_proxy(receivers, settings, monkeypatch):
    target = receivers()
    proxy = receivers()
    monkeypatch.setenv("HTTP_PROXY", proxy.url.rsplit("/", 1)[0])
    monkeypatch.setenv("NO_PROXY", "")
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
    }

    _send(target.url)

    assert len(target.requests) == 1
    assert proxy.requests == []
