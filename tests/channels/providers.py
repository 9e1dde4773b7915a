"""Loopback HTTP servers that stand in for SMS, push, WhatsApp and webhook
providers.

Each provider handler checks the request the way the real API documents it and
replies with the provider's own response and error shapes. Tests queue failures
(``provider.fail_next(...)``) to get rate limits and errors.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeProvider:
    """A provider API on 127.0.0.1; ``handle`` returns the reply to a request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.queued: list[Reply] = []
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                with provider.lock:
                    provider.requests.append(recorded)
                    queued = provider.queued.pop(0) if provider.queued else None
                reply = provider.handle(recorded)
                if queued is not None and reply.status < 300:
                    reply = queued
                payload = reply.body
                if not isinstance(payload, bytes):
                    payload = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _serve
            do_GET = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, *replies: Reply) -> None:
        with self.lock:
            self.queued.extend(replies)

    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError


def _basic_auth(request: Recorded) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


class FakeTwilio(FakeProvider):
    """Twilio's Messages API: form-encoded POST, basic auth with the account."""

    account_sid = "AC" + "0" * 32
    auth_token = "test-auth-token"

    def handle(self, request: Recorded) -> Reply:
        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.path != expected_path or request.method != "POST":
            return Reply(404, {"code": 20404, "message": "Not found", "status": 404})
        if _basic_auth(request) != (self.account_sid, self.auth_token):
            return Reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if "application/x-www-form-urlencoded" not in request.headers.get(
            "content-type", ""
        ):
            return Reply(400, {"code": 21600, "message": "Bad body", "status": 400})
        form = request.form()
        if not form.get("To", "").startswith("+"):
            return Reply(
                400,
                {
                    "code": 21211,
                    "message": f"The 'To' number {form.get('To')} is not valid.",
                    "status": 400,
                },
            )
        if not form.get("Body"):
            return Reply(
                400,
                {"code": 21602, "message": "Message body is required.", "status": 400},
            )
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return Reply(
                400, {"code": 21603, "message": "A 'From' is required.", "status": 400}
            )
        number = len(self.requests)
        return Reply(201, {"sid": f"SM{number:032d}", "status": "queued"})


class FakeFCM(FakeProvider):
    """FCM HTTP v1 with Google's OAuth token endpoint beside it."""

    project_id = "shop-test"
    access_token = "ya29.test-token"
    unregistered = {"gone-token"}

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/token":
            form = request.form()
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return Reply(400, {"error": "unsupported_grant_type"})
            if form.get("assertion", "").count(".") != 2:
                return Reply(400, {"error": "invalid_grant"})
            return Reply(
                200,
                {
                    "access_token": self.access_token,
                    "expires_in": 3599,
                    "token_type": "Bearer",
                },
            )
        if request.path != f"/v1/projects/{self.project_id}/messages:send":
            return Reply(404, _fcm_error(404, "NOT_FOUND", "Not found"))
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return Reply(401, _fcm_error(401, "UNAUTHENTICATED", "Bad token"))
        message = request.json().get("message", {})
        token = message.get("token")
        if not token or "notification" not in message:
            return Reply(
                400,
                _fcm_error(400, "INVALID_ARGUMENT", "Bad message", "INVALID_ARGUMENT"),
            )
        if any(not isinstance(v, str) for v in message.get("data", {}).values()):
            return Reply(
                400,
                _fcm_error(
                    400,
                    "INVALID_ARGUMENT",
                    "data values must be strings",
                    "INVALID_ARGUMENT",
                ),
            )
        if token in self.unregistered:
            return Reply(
                404,
                _fcm_error(
                    404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"
                ),
            )
        return Reply(
            200, {"name": f"projects/{self.project_id}/messages/{len(self.requests)}"}
        )


def _fcm_error(code: int, status: str, message: str, error_code: str = "") -> dict:
    details = []
    if error_code:
        details.append(
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": error_code,
            }
        )
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "details": details,
        }
    }


class FakeWhatsApp(FakeProvider):
    """The WhatsApp Business Cloud API's ``/messages`` endpoint."""

    phone_number_id = "106540352242922"
    access_token = "EAAG-test"
    version = "v21.0"

    def handle(self, request: Recorded) -> Reply:
        if request.path != f"/{self.version}/{self.phone_number_id}/messages":
            return Reply(400, _meta_error(100, "Unsupported post request."))
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return Reply(401, _meta_error(190, "Invalid OAuth access token."))
        body = request.json()
        template = body.get("template", {})
        if (
            body.get("messaging_product") != "whatsapp"
            or body.get("type") != "template"
            or not template.get("name")
            or not template.get("language", {}).get("code")
        ):
            return Reply(400, _meta_error(100, "Invalid parameter"))
        if not str(body.get("to", "")).isdigit():
            return Reply(400, _meta_error(131026, "Message undeliverable"))
        return Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": f"wamid.TEST{len(self.requests)}"}],
            },
        )


def _meta_error(code: int, message: str) -> dict:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbCdEf",
        }
    }


class FakeWebhookReceiver(FakeProvider):
    """A receiving system that checks the signature with the shared secret."""

    secret = "s" * 40

    def handle(self, request: Recorded) -> Reply:
        from omnichannel.channels.backends.webhook import verify_signature

        valid = verify_signature(
            self.secret,
            request.body,
            request.headers.get("x-omnichannel-timestamp", ""),
            request.headers.get("x-omnichannel-signature", ""),
        )
        if not valid:
            return Reply(401, {"detail": "bad signature"})
        return Reply(200, {"ok": True}, {"X-Request-Id": f"req-{len(self.requests)}"})


class FakePushService(FakeProvider):
    """A web push service (RFC 8030) that checks VAPID and the encrypted body."""

    expired_paths: set[str] = set()

    def handle(self, request: Recorded) -> Reply:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("vapid t=") or ",k=" not in authorization:
            return Reply(401, b"missing VAPID authorization")
        if request.headers.get("content-encoding") != "aes128gcm":
            return Reply(400, b"unsupported content encoding")
        if "ttl" not in request.headers:
            return Reply(400, b"missing TTL")
        if request.path in self.expired_paths:
            return Reply(410, b"subscription expired")
        return Reply(201, b"")
